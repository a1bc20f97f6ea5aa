"""The benchmark's cases. Every module here is imported by
benchlib.registry.all_cases(); each registers its cases with @case."""
