"""First-party helpers."""


def shout(text):
    return text.upper()
