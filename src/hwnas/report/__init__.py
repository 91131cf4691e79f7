"""Reports: the Pareto front as a table, CSV and plot."""

from hwnas.report.front import front_table, plot_front, write_front_csv

__all__ = ["front_table", "plot_front", "write_front_csv"]
