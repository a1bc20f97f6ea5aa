"""The pieces of scripts/bench.py, the performance benchmark.

    core.py       Row, Timed, CaseError, Skip, running a tool, the Bench context
    registry.py   @case(...): the one place a case is declared; all_cases()
    memory.py     pegasus's peak memory during a run (psutil)
    report.py     the header, the tables and the ratios-and-targets lines
    cases/        the cases, one module per family; every module there is loaded

Adding a case: write one function, decorated with @case(letter, name, label,
targets=...), in a module of cases/ (see registry.py). Nothing else lists cases.
"""
