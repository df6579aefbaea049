"""
weblog: a live access-log monitor served as Twisted .rpy pages.

The article's modules stay at the top of lib/ (C{persist}, C{webloglib} and the
refreshers); everything else is here, a module per concern.
"""
