"""WAFv2 as the sandbox emulates it.

Models (pure): ``web_acl`` (evaluating a web ACL on a request), ``capacity`` (WCU of
rules, the web ACL capacity). ``moto_patch`` applies the capacity to moto's responses.
"""
