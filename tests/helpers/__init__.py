"""What the tests share, apart from the tests themselves: running the
installed `pegasus` (runpegasus.py, on the wheel installed.py builds),
rendering templates (rendering.py), a real terminal under tmux
(tmuxscreen.py), a subreaper for orphaned processes (subreaper.py), and the
private Slurm cluster's fixtures (slurm_plugin.py). tests/ is on sys.path
(pytest puts it there), so they are `helpers.X`."""
