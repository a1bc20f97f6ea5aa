"""The template language: what a `{{ ... }}` may say, and what it renders to.
The strict grammar (scan.py splits text and tags, expr.py parses a tag,
literal.py its literals, syntax.py matches blocks and checks helpers), the
only text pybars3 ever compiles (emit.py) and what it calls while it
renders (runtime.py); the helpers, as Pegasus 1.4 had them (helpers.py,
arguments.py, inflector.py, jsonhelpers.py, jsonquery.py,
jsonfunctions.py); POSIX quoting (quoting.py); the cache and the errors
with their place (template.py).

May import: fsutil, settings, errors.
"""
