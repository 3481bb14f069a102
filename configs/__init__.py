"""Run configs shipped with dapt (installed as the dapt.configs package so `dapt run` finds tiny.yaml anywhere)."""
