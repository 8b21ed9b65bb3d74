

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())

# %% ../nbs/40_cli.ipynb #dd9c3714
from semiseg_nb.cli import main
if __name__ == '__main__' and __package__:  # run as `python -m semiseg_nb` (not when this cell runs in a notebook)
    raise SystemExit(main())