"""What the command line says: argparse only (parser.py: the modes and
their order; options.py: each mode's options and the types of their values;
texts.py: the help's words and the hints for other tools' options).

It imports nothing but the standard library, because argparse-manpage
imports it to write man/pegasus.1, and because `pegasus --help` must answer
without paying for PyYAML or pybars3.

May import: nothing.
"""

# 2.x: this Python re-implementation, which reads Pegasus 1.4's files and command
# line; a script that compares versions sees an upgrade from 1.4, not a downgrade.
__version__ = "2.0.0"
