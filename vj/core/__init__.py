"""The floor of contracts: the types every part of démontage shares, importing nothing else of vj.

errors (the one-line errors), validate (checking values read from TOML), params (a parameter's
spec), features (what the ears hand on), snapshot (the show at one frame), templates (prompt fields),
spec (what a set describes). Everything above this floor may import it; it imports none of them.
"""
