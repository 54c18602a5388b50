"""pi-emotion: real-time facial emotion recognition for the Raspberry Pi."""

__version__ = "0.1.0"
