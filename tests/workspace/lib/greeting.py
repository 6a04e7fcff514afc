"""First-party library in a second package."""


def greet(name):
    return "Hello, %s!" % name
