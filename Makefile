# The two commands the README names:  make run  and  make test
.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

run: setup
	bash scripts/run.sh

test: setup
	bash scripts/test.sh

bench: setup
	.venv/bin/python -m bench.run_all
