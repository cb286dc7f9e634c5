"""DeepCredit: point-in-time credit scoring over profiles, fulfilment histories and relations."""

__version__ = "0.1.0"
