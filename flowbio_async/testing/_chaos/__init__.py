"""The reliability harness behind ``python -m flowbio_async.testing.chaos`` (issue #7).

``_plan`` draws seeded faults, ``_kinds`` runs one transfer of each kind and checks it
byte for byte on both ends, ``_cancel`` interrupts transfers and resumes them, ``_checks``
looks for stray files and leaked sockets or tasks, ``_matrix`` ties them into one summary.
"""
