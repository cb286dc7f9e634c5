"""From any model's PD to what a person and a merchant see: the 350-950 score, band, sub-scores, reasons."""
