# Two commands do everything on a fresh machine with Python 3.11:
#   make run   – install, build the demo database if missing, start the dashboard
#   make test  – install, then run the whole test suite (browser tests included)
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
DEMO_DB := data/demo.duckdb
PORT    ?= 8501

.PHONY: install run test bench demo browser clean

$(STAMP): requirements.txt
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Rebuilt when the core, its migrations or the risk configuration change (about 15 s).
DEMO_SOURCES := $(shell find akrim_analytics -name '*.py' -o -name '*.sql') data/risk_config.toml
$(DEMO_DB): $(DEMO_SOURCES) | $(STAMP)
	$(VPY) -m akrim_analytics demo --db $(DEMO_DB)

demo: $(DEMO_DB)

run: $(STAMP) $(DEMO_DB)
	AKRIM_DB=$${AKRIM_DB:-$(DEMO_DB)} $(VPY) -m streamlit run app.py --server.port $(PORT)

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download does not work here). Installed only when missing.
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(VPY) -m pytest

bench: $(STAMP)
	@for f in bench/*_bench.py; do echo "== $$f"; $(VPY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB).wal .pytest_cache test-artifacts
