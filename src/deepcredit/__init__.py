"""DeepCredit: point-in-time credit scoring over profiles, fulfilment histories and relations."""

__version__ = "0.1.0"

import logging

# A library logs; the application decides where logs go (the `serve` command configures them). Without a
# handler of its own, Python would print every warning record to stderr, beside the warning itself.
logging.getLogger(__name__).addHandler(logging.NullHandler())
