from . import mod
from .mod import Tool

def run():
    mod.helper()
    Tool().use()
