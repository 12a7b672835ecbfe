"""`python -m algoperf.scoring`: the `algoperf-score` command."""

from algoperf.scoring._cli import cli_exit

cli_exit()
