"""Reports: the Pareto front as a table, CSV and plot; a search space as a table."""

from hwnas.report.front import front_table, plot_front, space_table, write_front_csv

__all__ = ["front_table", "plot_front", "space_table", "write_front_csv"]
