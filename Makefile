# zfsha developer entry points. The README's two commands are `make demo` and `make check`.
PYTHON   := /usr/bin/python3
VERSION  := $(shell sed -n 's/^version *= *//p' setup.cfg)
BUILD    := build
SRCDIR   := $(BUILD)/zfsha-$(VERSION)
DEB      := $(BUILD)/zfsha_$(VERSION)_all.deb
TOOLS    := $(BUILD)/tools
DEMO_DIR ?= /var/tmp/zfsha-demo
PYTEST_ARGS ?=
LAB_TESTS ?= tests/lab

# Debian packages by role; `make deps` installs whatever of them is missing.
APT_RUNTIME := python3-lxml python3-requests python3-pyghmi python3-pexpect python3-rtslib-fb
APT_CLUSTER := pacemaker corosync pcs pacemaker-cli-utils resource-agents fence-agents ipmitool
APT_BUILD   := dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools
APT_TEST    := python3-pytest python3-venv iproute2 util-linux procps openssh-server openssl iputils-arping busybox-static telnet
APT_PACKAGING := rpm cpio lintian man-db python3-pip python3-wheel python3-build python3-installer
APT_ALL     := $(APT_RUNTIME) $(APT_CLUSTER) $(APT_BUILD) $(APT_TEST) $(APT_PACKAGING)

AGENTS := $(wildcard agents/*)
FENCE  := $(wildcard fence/fence_*)

.PHONY: all deps metadata deb rpm freebsd-port man install demo demo-down check test lint lab-check clean

all: metadata

deps:
	@missing=$$(for p in $(APT_ALL); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v npm >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm)
	@test -x $(TOOLS)/bin/ruff || ($(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install -q ruff)

metadata:
	@for a in $(AGENTS); do PYTHONPATH=lib $(PYTHON) $$a meta-data > metadata/$$(basename $$a).xml || exit 1; done
	@for f in $(FENCE); do PYTHONPATH=lib $(PYTHON) $$f -o metadata > metadata/$$(basename $$f).xml || exit 1; done

deb: $(DEB)

$(DEB): $(shell git ls-files -co --exclude-standard 2>/dev/null)
	rm -rf $(SRCDIR) && mkdir -p $(SRCDIR)
	git ls-files -co --exclude-standard -z | grep -zv '^packaging/debian/' | xargs -0 cp --parents -t $(SRCDIR)
	cp -r packaging/debian $(SRCDIR)/debian
	printf 'zfsha (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- zfsha developers <dev@zfsha.invalid>  %s\n' \
		"$(VERSION)" "$(VERSION)" "$$(date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))" > $(SRCDIR)/debian/changelog
	cd $(SRCDIR) && env PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b >../dpkg-buildpackage.log 2>&1 || (tail -40 ../dpkg-buildpackage.log; exit 1)
	@echo "built $(DEB)"

# RPM for EL9 (packaging/rpm/zfsha.spec), built from a tarball of the tree with the version from
# setup.cfg. Debian's rpmbuild cannot see dpkg's packages, so BuildRequires are not checked there.
RPMTOP     := $(BUILD)/rpm
TARBALL    := $(RPMTOP)/SOURCES/zfsha-$(VERSION).tar.gz
RPM_NODEPS := $(if $(wildcard /etc/debian_version),--nodeps)

$(TARBALL): $(shell git ls-files -co --exclude-standard 2>/dev/null)
	mkdir -p $(@D)
	git ls-files -co --exclude-standard -z | LC_ALL=C sort -z | tar --null -T - --transform 's,^,zfsha-$(VERSION)/,' \
		--owner=0 --group=0 --numeric-owner -czf $@

rpm: $(TARBALL)
	rm -rf $(RPMTOP)/RPMS $(RPMTOP)/BUILD $(RPMTOP)/BUILDROOT
	env PATH=/usr/sbin:/usr/bin:/sbin:/bin rpmbuild -bb $(RPM_NODEPS) --define "_topdir $(abspath $(RPMTOP))" \
		--define "zfsha_version $(VERSION)" packaging/rpm/zfsha.spec >$(RPMTOP)/rpmbuild.log 2>&1 \
		|| (tail -40 $(RPMTOP)/rpmbuild.log; exit 1)
	@ls $(RPMTOP)/RPMS/noarch/zfsha-$(VERSION)-*.noarch.rpm

# The FreeBSD port's Makefile and pkg-plist, rendered from packaging/freebsd/Makefile.in and the tree.
freebsd-port:
	$(PYTHON) packaging/freebsd/render.py

# Every man page the packages ship, rendered from the working tree into build/man.
MANDIR := $(BUILD)/man

man:
	rm -rf $(MANDIR)
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=lib $(PYTHON) packaging/man/manpages.py --python $(PYTHON) $(MANDIR)

install: deps $(DEB)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall ./$(DEB)

demo: install
	$(PYTHON) -m lab.demo up --state-dir $(DEMO_DIR)

demo-down:
	$(PYTHON) -m lab.demo down --state-dir $(DEMO_DIR)

lint:
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .

test:
	$(PYTHON) -m pytest -ra $(PYTEST_ARGS) tests --ignore=tests/lab

check: deps lint test

# The VM tier installs $(DEB), built just before from this tree, into the guests (the package is what
# is tested); LAB_VM_NO_MAKE keeps the tests from running make again.
lab-check: deps $(DEB)
	LAB_VM_NO_MAKE=1 $(PYTHON) -m pytest -ra $(PYTEST_ARGS) $(LAB_TESTS)

clean:
	rm -rf $(BUILD)
