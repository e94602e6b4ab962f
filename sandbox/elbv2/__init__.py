"""Elastic Load Balancing v2 as the sandbox emulates it.

Models (pure, no I/O): ``listener_rules`` (rule matching), ``target_health`` (the
health check state machine), ``limits`` (quotas and tag values moto does not enforce).
Apart from them: ``moto_patch`` (those limits applied to moto's responses) and ``http``
(the load balancer itself, serving HTTP on loopback).
"""
