"""Static checks of the production-like stack: docker-compose.yml, ops/Dockerfile, .dockerignore and
ops/prometheus/prometheus.yml. No Docker engine runs here, so nothing is started; these tests keep
the files honest against the code: settings names, console scripts, ports, versions, build context.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "ops" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS = ROOT / "ops" / "prometheus" / "prometheus.yml"
PYPROJECT = ROOT / "pyproject.toml"

# Read by load_settings() itself, not a Settings field.
NON_FIELD_SETTINGS = {"EDU_SETTINGS_FILE"}
# Only these services publish host ports; the Prometheus UI (no auth) on loopback only.
PUBLISHED = {"cockpit", "prometheus", "collector"}  # the collector: browsers and apps send to it
LOOPBACK_ONLY = {"prometheus"}
TEST_PASSWORD = "compose-config-check"


# ------------------------------------------------------------------------------------ helpers
def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the x-* anchors and << merges


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _ours() -> dict[str, dict[str, Any]]:
    """Services built from ops/Dockerfile (the project's image)."""
    return {name: svc for name, svc in _services().items() if "build" in svc}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


_INTERP = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def _interpolate(value: str) -> str:
    """${VAR:-default} -> default, as compose does with VAR unset (required vars -> a placeholder)."""
    return _INTERP.sub(lambda m: (m.group(2) or "") if "?" not in m.group(0) else "x", value)


def _env_names(text: str) -> set[str]:
    return set(re.findall(r"\bEDU_[A-Z0-9_]+\b", text))


def _is_field(name: str) -> bool:
    return name in NON_FIELD_SETTINGS or name.removeprefix("EDU_").lower() in Settings.model_fields


def _compose_bin() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def _run_compose(args: list[str], env_file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    binary = _compose_bin()
    if binary is None:
        pytest.skip("no docker-compose binary (Debian package docker-compose; .ci/run installs it)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDU_")}
    clean.update(env)
    return subprocess.run(
        [*binary, "--env-file", str(env_file), "-f", str(COMPOSE), *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def empty_env_file(tmp_path: Path) -> Path:
    """An empty .env, so a developer's own .env cannot change what is checked."""
    path = tmp_path / "empty.env"
    path.write_text("")
    return path


# ------------------------------------------------------------------------- docker-compose config
@pytest.mark.parametrize("profile", [None, "alerting", "cluster"])
def test_compose_config_is_valid(empty_env_file: Path, profile: str | None) -> None:
    args = (["--profile", profile] if profile else []) + ["config", "-q"]
    res = _run_compose(args, empty_env_file, EDU_CLICKHOUSE_PASSWORD=TEST_PASSWORD)
    assert res.returncode == 0, res.stderr


def test_compose_refuses_to_start_without_a_clickhouse_password(empty_env_file: Path) -> None:
    """No default password ships in the file: config fails and says which variable to set."""
    res = _run_compose(["config", "-q"], empty_env_file)
    assert res.returncode != 0
    assert "EDU_CLICKHOUSE_PASSWORD" in res.stderr


def test_compose_resolves_worker_replicas(empty_env_file: Path) -> None:
    res = _run_compose(["config"], empty_env_file, EDU_CLICKHOUSE_PASSWORD=TEST_PASSWORD, WORKER_REPLICAS="3")
    assert res.returncode == 0, res.stderr
    resolved = yaml.safe_load(res.stdout)["services"]
    assert resolved["worker"]["deploy"]["replicas"] == 3
    assert resolved["sink"]["environment"]["EDU_CLICKHOUSE_PASSWORD"] == TEST_PASSWORD


# ------------------------------------------------------------------------------------ settings
def test_every_edu_variable_is_a_settings_field() -> None:
    """Every EDU_* name in the compose file and the Dockerfile (values, interpolations, comments)."""
    names = _env_names(COMPOSE.read_text()) | _env_names(DOCKERFILE.read_text())
    assert names, "no EDU_* settings found at all"
    unknown = sorted(n for n in names if not _is_field(n))
    assert not unknown, f"not fields of contracts.settings.Settings: {unknown}"


def test_edu_environment_values_are_valid_settings() -> None:
    """Each of our services' environment (defaults interpolated) builds a valid Settings."""
    for svc in _ours().values():
        env = {k: _interpolate(str(v)) for k, v in (svc.get("environment") or {}).items()}
        kwargs = {
            k.removeprefix("EDU_").lower(): v
            for k, v in env.items()
            if k.startswith("EDU_") and _is_field(k) and k not in NON_FIELD_SETTINGS
        }
        Settings(_env_file=None, **kwargs)  # type: ignore[call-arg]  # raises on a bad value


def test_store_services_use_the_clickhouse_server() -> None:
    services = _services()
    for name in ("migrate", "sink", "cockpit"):
        env = services[name]["environment"]
        assert env["EDU_CLICKHOUSE_ENGINE"] == "server", name
        assert _interpolate(env["EDU_CLICKHOUSE_HOST"]) == "clickhouse", name
    # the password reaches only the services that use the store
    for name in ("worker", "simulator"):
        assert "EDU_CLICKHOUSE_PASSWORD" not in services[name]["environment"], name
    ch = services["clickhouse"]["environment"]
    sink = services["sink"]["environment"]
    assert ch["CLICKHOUSE_USER"] == sink["EDU_CLICKHOUSE_USER"]
    assert ch["CLICKHOUSE_PASSWORD"] == sink["EDU_CLICKHOUSE_PASSWORD"]
    assert ch["CLICKHOUSE_DB"] == sink["EDU_CLICKHOUSE_DATABASE"]


def test_services_share_one_kafka_and_topic_layout() -> None:
    envs = [svc["environment"] for svc in _ours().values()]
    for key in ("EDU_KAFKA_BOOTSTRAP", "EDU_TOPIC_PARTITIONS", "EDU_TOPIC_REPLICATION"):
        assert len({str(e[key]) for e in envs}) == 1, key
    kafka = _services()["kafka"]["environment"]
    assert _interpolate(envs[0]["EDU_KAFKA_BOOTSTRAP"]) == kafka["KAFKA_ADVERTISED_LISTENERS"].split("://", 1)[1]


# ------------------------------------------------------------------------- commands and images
def test_every_service_command_is_a_console_script() -> None:
    scripts = set(_pyproject()["project"]["scripts"])
    ours = _ours()
    assert {"worker", "sink", "cockpit", "simulator", "migrate"} <= set(ours)
    for name, svc in ours.items():
        command = svc.get("command")
        assert isinstance(command, list) and command, f"{name}: command must be an exec-form list"
        assert command[0] in scripts, f"{name}: {command[0]!r} is not one of {sorted(scripts)}"
        assert svc["build"]["dockerfile"] == "ops/Dockerfile"
    assert _services()["sink"]["command"][0] == "edu-sink"
    assert _services()["worker"]["command"][0] == "edu-worker"
    assert _services()["cockpit"]["command"][0] == "edu-cockpit"
    assert _services()["simulator"]["command"][:3] == ["edu-simulate", "run", "--live"]
    assert "--rate" in _services()["simulator"]["command"]


class _Parsed(Exception):
    """Raised by a stubbed load_settings: the CLI got past argument parsing."""


def _stop_after_parsing(*_: object, **__: object) -> None:
    raise _Parsed


@pytest.mark.parametrize("service", ["worker", "sink", "migrate", "cockpit", "simulator"])
def test_the_commands_parse_with_the_real_cli(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compose command line is accepted by the console script's own parser (stopped right after)."""
    import cockpit.cli
    import simulators.cli
    import sinks.cli
    import streams.cli

    command = _services()[service]["command"]
    args = [_interpolate(a) for a in command[1:]]
    if command[0] == "edu-simulate":
        from typer.testing import CliRunner

        monkeypatch.setattr(simulators.cli, "load_settings", _stop_after_parsing)
        result = CliRunner().invoke(simulators.cli.app, args)
        assert isinstance(result.exception, _Parsed), result.output
        return
    module = {"edu-worker": streams.cli, "edu-sink": sinks.cli, "edu-cockpit": cockpit.cli}[command[0]]
    monkeypatch.setattr(module, "load_settings", _stop_after_parsing)
    with pytest.raises(_Parsed):  # argparse would raise SystemExit(2) on a bad argument
        module.main(args)


def test_images_are_pinned() -> None:
    for name, svc in _services().items():
        image = _interpolate(svc["image"])
        repo, _, tag = image.rpartition(":")
        assert repo and tag and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and "latest" not in image, f"{name}: {image}"
        if "build" not in svc:  # third-party images: a full release version, not a moving branch tag
            assert re.match(r"^v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned to a release"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert base, "ops/Dockerfile must pin its base in ARG PYTHON_IMAGE"
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)), base.group(1)


def test_official_images() -> None:
    images = {
        name: svc["image"].split(":")[0]
        for name, svc in _services().items()
        if "build" not in svc and "cluster" not in svc.get("profiles", [])
    }
    assert images == {
        "kafka": "apache/kafka",
        "clickhouse": "clickhouse/clickhouse-server",
        "prometheus": "prom/prometheus",
        "alertmanager": "prom/alertmanager",
    }


def test_kafka_image_matches_the_local_broker_version() -> None:
    from ops.kafka_local import kafka_version

    tag = _services()["kafka"]["image"].split(":")[1]
    assert tag == kafka_version(), "bump docker-compose.yml and ops/kafka/pom.xml together"
    assert tag.startswith("4.1.")


def test_kafka_runs_kraft_single_node() -> None:
    env = _services()["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    for key, value in env.items():
        if key.endswith(("REPLICATION_FACTOR", "MIN_ISR", "MIN_INSYNC_REPLICAS")):
            assert int(value) == 1, key


# --------------------------------------------------------------------- health, restart, storage
def test_depends_on_waits_for_health() -> None:
    services = _services()
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, spec in deps.items():
            condition = spec["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), (name, dep)
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
    assert services["sink"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    assert services["sink"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["sink"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_long_running_services_have_restart_policies_and_healthchecks() -> None:
    for name, svc in _services().items():
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), name
        if name not in ("migrate", "simulator"):
            assert "healthcheck" in svc, name


def test_only_cockpit_and_prometheus_publish_ports() -> None:
    for name, svc in _services().items():
        ports = svc.get("ports") or []
        if name not in PUBLISHED:
            assert not ports, f"{name} must not publish host ports"
            continue
        assert len(ports) == 1
        if name in LOOPBACK_ONLY:
            assert _interpolate(ports[0]).startswith("127.0.0.1:"), ports


def test_named_volumes_and_no_stray_bind_mounts() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0]
            if source.startswith((".", "/")):
                # the Prometheus config, and the cluster profile's generated ClickHouse configs (read-only)
                assert vol == "./ops/prometheus:/etc/prometheus:ro" or (
                    source.startswith("./ops/clickhouse/cluster/") and vol.endswith(":ro")
                ), f"{name}: bind mount {vol}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    for stateful, path in (
        ("kafka", "/var/lib/kafka/data"),
        ("clickhouse", "/var/lib/clickhouse"),
        ("prometheus", "/prometheus"),
    ):
        assert any(v.endswith(":" + path) for v in compose["services"][stateful]["volumes"]), stateful


def test_workers_scale_as_one_consumer_group() -> None:
    worker = _services()["worker"]
    assert "container_name" not in worker  # would prevent replicas
    replicas = _interpolate(str(worker["deploy"]["replicas"]))
    assert int(replicas) >= 2
    assert "EDU_WORKER_ID" in worker["environment"]
    partitions = int(_interpolate(str(worker["environment"]["EDU_TOPIC_PARTITIONS"])))
    assert partitions >= int(replicas), "more workers than partitions would leave some idle"


# -------------------------------------------------------------------------- Dockerfile + context
def _dockerignore_patterns() -> list[tuple[bool, str]]:
    out = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        out.append((negate, line.lstrip("!").strip("/")))
    return out


def _pattern_matches(pattern: str, path: str) -> bool:
    regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    regex = regex.replace(r"\[", "[").replace(r"\]", "]")
    return re.fullmatch(regex, path) is not None


def _in_context(path: str) -> bool:
    """Docker's rule: a pattern matches the path or one of its parents; the last match wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negate, pattern in _dockerignore_patterns():
        if any(_pattern_matches(pattern, c) for c in candidates):
            included = negate
    return included


def test_dockerignore_matcher_sanity() -> None:
    assert _pattern_matches("**/__pycache__", "cockpit/__pycache__")
    assert _pattern_matches("**/*.py[cod]", "a/b/c.pyc")
    assert not _pattern_matches("*", "a/b") and _pattern_matches("*", "a")
    assert fnmatch.fnmatch("x.pyc", "*.py[cod]")


def test_dockerfile_copies_what_pyproject_needs() -> None:
    meta = _pyproject()
    needed = ["pyproject.toml", "constraints.txt", meta["project"]["readme"]]
    for rel in needed:
        assert (ROOT / rel).is_file(), f"{rel} is missing (ops/Dockerfile copies it)"
        assert _in_context(rel), f".dockerignore excludes {rel}"
    # every file of every package that setuptools would install is in the build context
    from setuptools import find_packages

    include = meta["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(ROOT), include=include)
    assert {"contracts", "streams", "sinks", "cockpit", "ops"} <= set(packages)
    # ...but the compiled detectors, which the image builds for itself (a local build never leaks in)
    built = ("*.so", "_native.stamp")
    data_globs = [
        g for globs in meta["tool"]["setuptools"].get("package-data", {}).values() for g in globs if g not in built
    ]
    for pkg in packages:
        pkg_dir = ROOT / pkg.replace(".", "/")
        for f in pkg_dir.iterdir():
            if f.is_file() and (f.suffix == ".py" or any(fnmatch.fnmatch(f.name, g) for g in data_globs)):
                rel = f.relative_to(ROOT).as_posix()
                assert _in_context(rel), f".dockerignore excludes {rel}, needed by `pip install .`"
    assert not _in_context("alerts/detectors.cpython-311-x86_64-linux-gnu.so")
    assert not _in_context("alerts/_native.stamp")
    # and what must never be sent to the daemon or baked into the image
    for rel in (
        ".env",
        ".git/config",
        "tests/conftest.py",
        "cockpit/__pycache__/app.cpython-311.pyc",
        "t1x0-worker-data/x",
        ".venv/bin/python",
    ):
        assert not _in_context(rel), f".dockerignore lets {rel} into the image"

    text = DOCKERFILE.read_text()
    copies = re.findall(r"^COPY\s+(?!--from)(.+)$", text, re.M)
    sources = {s for line in copies for s in line.split()[:-1] if not s.startswith("--")}
    assert "." in sources or set(needed) <= sources, f"ops/Dockerfile COPY sources: {sources}"
    assert re.search(r"pip install -c constraints\.txt \.", text), "install the project with the lock"
    # the detectors are compiled before the project is installed, and the image checks they run so
    build, install = text.index("python -m ops.build_native"), text.index("pip install -c constraints.txt .")
    assert build < install and "alerts.NATIVE != 'compiled'" in text
    assert "pyproject.toml" in sources and "constraints.txt" in sources  # dependency layer first


def test_dockerfile_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    final_stage = re.split(r"^FROM\s", text, flags=re.M)[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.M)
    assert users, "the runtime stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    for name, svc in _ours().items():
        assert svc.get("user") in (None, "10001:10001"), f"{name} overrides the image user"


def test_python_base_matches_requires_python() -> None:
    requires = _pyproject()["project"]["requires-python"]
    assert requires == ">=3.11"
    assert "python:3.11" in DOCKERFILE.read_text()


# ---------------------------------------------------------------------------------- Prometheus
def test_promtool_check_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    res = subprocess.run([promtool, "check", "config", str(PROMETHEUS)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    prom = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    services = _services()

    worker = jobs["edu-worker"]["dns_sd_configs"][0]
    assert worker["names"] == ["worker"] and worker["type"] == "A"
    assert worker["port"] == int(services["worker"]["environment"]["EDU_WORKER_METRICS_PORT"])

    sink_port = int(services["sink"]["environment"]["EDU_SINK_METRICS_PORT"])
    assert jobs["edu-sink"]["static_configs"][0]["targets"] == [f"sink:{sink_port}"]

    cockpit_port = int(services["cockpit"]["environment"]["EDU_COCKPIT_PORT"])
    assert jobs["edu-cockpit"]["static_configs"][0]["targets"] == [f"cockpit:{cockpit_port}"]
    # the cockpit listens on all interfaces of its container, and /metrics of the others too
    assert services["cockpit"]["environment"]["EDU_COCKPIT_HOST"] == "0.0.0.0"
    for name in ("worker", "sink"):
        assert services[name]["environment"]["EDU_METRICS_HOST"] == "0.0.0.0", name


def test_prometheus_mount_matches_config_location() -> None:
    prom = _services()["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    assert PROMETHEUS.parent.relative_to(ROOT).as_posix() == "ops/prometheus"


# ---------------------------------------------------------------------- the `cluster` profile
CLUSTER_NODES = ("clickhouse-s1r1", "clickhouse-s1r2", "clickhouse-s2r1", "clickhouse-s2r2")


def _cluster_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in _services().items() if "cluster" in (s.get("profiles") or [])}


def test_cluster_profile_has_three_brokers_keeper_and_two_by_two_clickhouse() -> None:
    names = set(_cluster_services())
    assert names == {"kafka-1", "kafka-2", "kafka-3", "clickhouse-keeper", *CLUSTER_NODES, "sink-2"}
    images = {n: s["image"] for n, s in _cluster_services().items()}
    assert images["clickhouse-s1r1"] == _services()["clickhouse"]["image"]  # the same server release
    assert images["kafka-1"] == _services()["kafka"]["image"]
    assert images["clickhouse-keeper"].split(":")[1] == images["clickhouse-s1r1"].split(":")[1]


def test_cluster_profile_runs_two_sink_instances_of_one_group() -> None:
    """`sink` (instance 0/2 from .env) and `sink-2` (1/2): one group, the replicas' deduplication."""
    from contracts.settings import Settings

    one, two = _services()["sink"]["environment"], _cluster_services()["sink-2"]["environment"]
    assert one["EDU_SINK_INSTANCE"] == "${EDU_SINK_INSTANCE:-}" and two["EDU_SINK_INSTANCE"] == "1/2"
    assert one["EDU_SINK_GROUP"] == two["EDU_SINK_GROUP"]
    assert two["EDU_SINK_INSERT_WITNESS"] == "false"
    assert _services()["sink-2"]["command"] == _services()["sink"]["command"]
    Settings(sink_instance="1/2", sink_insert_witness=False)  # a combination the settings accept
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    assert "EDU_SINK_INSTANCE=0/2" in deployment and "EDU_SINK_INSERT_WITNESS=false" in deployment


def test_cluster_brokers_form_one_kraft_quorum_with_rf3_min_insync2() -> None:
    from ops.kafka_cluster import ClusterBroker

    envs = [_cluster_services()[f"kafka-{i}"]["environment"] for i in (1, 2, 3)]
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    assert [int(e["KAFKA_NODE_ID"]) for e in envs] == [1, 2, 3]
    assert {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs} == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert [e["KAFKA_ADVERTISED_LISTENERS"] for e in envs] == [f"PLAINTEXT://kafka-{i}:9092" for i in (1, 2, 3)]
    # the same replication settings as the local cluster (ops/kafka_cluster.py)
    local = ClusterBroker(1, "1@127.0.0.1:1", "x", 1, 2, Path("/nonexistent")).server_properties()
    for key in (
        "default.replication.factor",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "offsets.topic.replication.factor",
        "transaction.state.log.min.isr",
    ):
        env_key = "KAFKA_" + key.upper().replace(".", "_")
        assert all(str(e[env_key]) == local[key] for e in envs), key
    vols = [v for i in (1, 2, 3) for v in _cluster_services()[f"kafka-{i}"]["volumes"]]
    assert len(set(vols)) == 3  # one data volume each


def test_cluster_clickhouse_configs_are_the_generated_ones() -> None:
    """The mounted files equal what ops/clickhouse_cluster.py generates; each node its own macros."""
    from ops.clickhouse_cluster import COMPOSE_SHARDS, compose_configs

    files = compose_configs()
    for name, text in files.items():
        assert (ROOT / "ops" / "clickhouse" / "cluster" / name).read_text() == text, (
            f"{name} is stale: run python -m ops.clickhouse_cluster compose-configs"
        )
    hosts = [a.host for shard in COMPOSE_SHARDS for a in shard]
    assert tuple(hosts) == CLUSTER_NODES  # remote_servers names the compose services
    for node in CLUSTER_NODES:
        svc = _cluster_services()[node]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"] if v.startswith("./")}
        replica = node.removeprefix("clickhouse-")
        assert mounts == {
            "/etc/clickhouse-server/config.d/cluster.xml": "./ops/clickhouse/cluster/cluster.xml",
            "/etc/clickhouse-server/users.d/cluster.xml": "./ops/clickhouse/cluster/users-cluster.xml",
            "/etc/clickhouse-server/config.d/macros.xml": f"./ops/clickhouse/cluster/macros-{replica}.xml",
        }
        assert f"<replica>{replica}</replica>" in files[f"macros-{replica}.xml"]
        assert svc["hostname"] == node  # interserver replication fetches parts from this name
        assert svc["depends_on"]["clickhouse-keeper"]["condition"] == "service_healthy"
    assert "<host>clickhouse-keeper</host>" in files["cluster.xml"]
    assert "insert_distributed_sync" in files["users-cluster.xml"]


def test_cluster_profile_settings_are_valid_for_our_services() -> None:
    """The .env values docs/deployment.md gives for the cluster make valid Settings."""
    s = Settings(
        kafka_bootstrap="kafka-1:9092,kafka-2:9092,kafka-3:9092",
        topic_replication=3,
        clickhouse_engine="server",
        clickhouse_host="clickhouse-s1r1",
        clickhouse_cluster="edu_cluster",
    )
    assert s.clickhouse_cluster == "edu_cluster"
    env = _services()["sink"]["environment"]
    assert env["EDU_CLICKHOUSE_CLUSTER"] == "${EDU_CLICKHOUSE_CLUSTER:-}"
    assert env["EDU_KAFKA_BOOTSTRAP"] == "${EDU_KAFKA_BOOTSTRAP:-kafka:9092}"
