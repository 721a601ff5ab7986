"""Taipei CoolCloud plugin."""
