"""sopflow: write a growth campaign as an SOP playbook, run it, and measure every step against target."""

__version__ = "0.1.0"
