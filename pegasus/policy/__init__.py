"""Where jobs go and what their ends mean, pure logic: the engine asks, and
does the I/O. base.py is what both policies share (Place, Verdict),
queue.py and broadcast.py are the two; modes.py is the only module that
knows the modes by name;
placement.py says where a job may run at all (slots.py allocates the
slots of one sub-host); halting.py counts for --halt and -e;
blackholes.py pauses a sub-host that fails job after job at once.

May import: events, spec, templates, fsutil, settings, errors.
"""
