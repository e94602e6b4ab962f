"""The shipped experiments, DR targets, IAM policies and env examples (data only).

Installed as the package ``chaosaws_ext.experiments`` so that an installed wheel finds them
with :mod:`importlib.resources`; nothing imports code from here.
"""
