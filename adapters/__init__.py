"""Adapters: one package per school product, behind the contract in ``adapters.base``."""
