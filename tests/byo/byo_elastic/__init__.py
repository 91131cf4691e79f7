"""An outside package that brings its own super-network to hwnas (used by the tests).

Nothing here is hwnas's own: an elastic MLP written against the documented protocol only
(``space``, ``activate``, ``extract``, ``example_input``), its own data, and a plain
evaluator function. The tests put this folder on ``PYTHONPATH`` and, for the entry-point
test, a ``*.dist-info`` that registers ``byo_mlp`` in the ``hwnas.supernets`` group.
"""
