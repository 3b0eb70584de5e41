.PHONY: start test lint format bench roles-doc

start:  ## install and serve HTTPS on https://localhost:8443/
	scripts/start.sh

test:   ## install everything and run all gates and tests (SQLite, then PostgreSQL)
	scripts/test.sh

lint:
	.venv/bin/ruff check labelkeep tests bench
	.venv/bin/ruff format --check labelkeep tests bench
	.venv/bin/mypy labelkeep tests bench

format:
	.venv/bin/ruff check --fix labelkeep tests bench
	.venv/bin/ruff format labelkeep tests bench

roles-doc:  ## regenerate the roles table in docs/roles.md
	.venv/bin/python -m labelkeep.accounts.roles_doc > docs/roles.md

bench:  ## run the benchmarks against the real server (prints and records figures)
	scripts/bootstrap.sh dev
	scripts/install-system-deps.sh
	.venv/bin/python -m bench.identity
	.venv/bin/python -m bench.labeling
	.venv/bin/python -m bench.export
	.venv/bin/python -m bench.imports
	.venv/bin/python -m bench.actions
	.venv/bin/python -m bench.settings
	.venv/bin/python -m bench.counts
	.venv/bin/python -m bench.columns
	.venv/bin/python -m bench.stream
