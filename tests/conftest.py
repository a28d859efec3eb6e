import os
import sys

# Tests import the installed rgrad (with its compiled _C); this directory holds the helpers.
sys.path.insert(0, os.path.dirname(__file__))
