# sokuho — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-stress check demo bench eval decisions clean install bytecode lexicon-json


$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# An editable install has no bytecode of its own (a wheel install compiles it): a process that
# cannot write it (read-only install, PYTHONDONTWRITEBYTECODE) compiles every bot module at every
# start, ~0.1 s of CPU per process and per parser worker (a cron `poll --once`).
bytecode:
	$(BIN)/python -m compileall -q bot

lexicon-json: $(STAMP)  ## after editing bot/data/lexicon.yaml: its JSON copy, read by every matching process
	$(BIN)/python -c "from bot.core.lexicon import twin_json; open('bot/data/lexicon.json', 'w', encoding='utf-8').write(twin_json())"

install: $(STAMP)

run: $(STAMP)  ## run the service on embedded defaults (console output without a Telegram token)
	$(BIN)/sokuho run

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-stress: $(STAMP)  ## the suite 5 times in a row, both cores saturated (stress-ng), Bot API replies delayed
	PYTHON=$(BIN)/python .ci/stress

demo: $(STAMP)  ## offline demo: the sample feeds in examples/offline, one cycle, state in state/demo
	SOKUHO_MAX_AGE=0 $(BIN)/sokuho poll --once --feeds examples/offline/feeds.yaml --state state/demo

check: $(STAMP)
	$(BIN)/sokuho check

eval: $(STAMP)  ## score matching and dedup: ../shared/eval/dev, eval/regression, eval/stories
	eval/run
	$(BIN)/python eval/decisions.py

decisions: $(STAMP)  ## every match and dedup decision on the corpora, compared with eval/decisions/
	$(BIN)/python eval/decisions.py

bench: $(STAMP) bytecode  ## issue 9's figures on an idle machine (~8 min): whole processes vs feedparser and newsboat, then one-core throughput
	$(BIN)/python bench/poll_bench.py
	$(BIN)/python bench/match_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
