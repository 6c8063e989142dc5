"""docker/: the compose file, the Dockerfile, the code and the docs agree.

There is no docker engine on the development machines, so these tests check what can be
checked without one: names, ports, paths, variables and versions that must match.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pyspark
import pytest
import yaml

from sparkmlops import session, spark_install

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker/docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO / "docker/Dockerfile").read_text()
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def resolve(value: str) -> str:
    """Compose interpolation with the file's local defaults (``${VAR:-default}``)."""
    return _DEFAULT.sub(lambda match: match.group(2), str(value))


def environment(service: str) -> dict[str, str]:
    return {key: resolve(value) for key, value in (SERVICES[service].get("environment") or {}).items()}


def arg_after(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def dockerfile_arg(name: str) -> str:
    return re.search(rf"^ARG {name}=(\S+)$", DOCKERFILE, re.M).group(1)


def test_the_deployment_has_every_service():
    assert {"minio", "minio-init", "spark-master", "spark-worker-1", "spark-worker-2", "mlflow", "runner"} <= set(SERVICES)


def test_workers_and_runner_use_the_masters_url():
    master = SERVICES["spark-master"]["command"]
    url = f"spark://{arg_after(master, '--host')}:{arg_after(master, '--port')}"
    assert arg_after(master, "--host") == "spark-master"
    for worker in ("spark-worker-1", "spark-worker-2"):
        assert SERVICES[worker]["command"][2] == url
    assert arg_after(SERVICES["runner"]["command"], "--master") == url
    assert environment("runner")["SPARK_MASTER_URL"] == url
    published = {port.split(":")[0] for port in SERVICES["spark-master"]["ports"]}
    assert {arg_after(master, "--port"), arg_after(master, "--webui-port")} <= published


def test_each_worker_has_its_own_web_ui_port_and_host():
    ports = [arg_after(SERVICES[w]["command"], "--webui-port") for w in ("spark-worker-1", "spark-worker-2")]
    assert len(set(ports)) == 2
    for worker, port in zip(("spark-worker-1", "spark-worker-2"), ports):
        assert f"{port}:{port}" in SERVICES[worker]["ports"]
        # Spark binds to the container's own name, not the 127.0.0.1 default of one machine
        assert environment(worker)["SPARK_LOCAL_IP"] == arg_after(SERVICES[worker]["command"], "--host") == worker


def test_minio_endpoint_points_at_the_minio_api_port():
    api_port = SERVICES["minio"]["ports"][0].split(":")[1]
    for service in ("runner", "spark-worker-1", "spark-worker-2"):
        assert environment(service)["MINIO_ENDPOINT"] == f"http://minio:{api_port}"
        assert environment(service)["MINIO_ACCESS_KEY"] == environment("minio")["MINIO_ROOT_USER"]
        assert environment(service)["MINIO_SECRET_KEY"] == environment("minio")["MINIO_ROOT_PASSWORD"]


def test_session_reads_the_variables_compose_sets(monkeypatch):
    runner = environment("runner")
    for key in ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"):
        monkeypatch.setenv(key, runner[key])
    settings = session.s3_endpoint_settings()
    assert settings["fs.s3a.endpoint"] == runner["MINIO_ENDPOINT"]
    assert settings["fs.s3a.access.key"] == runner["MINIO_ACCESS_KEY"]
    assert settings["fs.s3a.connection.ssl.enabled"] == "false"
    assert re.search(rf"{session.CHECKPOINT_DIR_ENV}", yaml.safe_dump(SERVICES["runner"]))
    jars_dir = re.search(rf"\b{spark_install.CACHE_DIR_ENV}=(\S+)", DOCKERFILE).group(1)
    assert f'cd "${spark_install.CACHE_DIR_ENV}"' in DOCKERFILE and jars_dir.startswith("/")


def test_the_image_installs_its_jars_into_its_own_spark(tmp_path):
    """The Dockerfile's downloaded jar names are what spark_install takes and Spark then carries."""
    command = re.search(r"python -m sparkmlops\.spark_install (.+?)(?:&&|$)", DOCKERFILE.replace("\\\n", " "), re.S).group(1)
    args = shlex.split(command.replace(f"${spark_install.CACHE_DIR_ENV}", str(tmp_path / "downloads")))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    names = [f"hadoop-aws-{dockerfile_arg('HADOOP_VERSION')}.jar", f"bundle-{dockerfile_arg('AWS_SDK_V2_VERSION')}.jar"]
    for name in names:
        (downloads / name).write_bytes(b"jar")
    home = tmp_path / "spark"
    (home / "jars").mkdir(parents=True)
    jars_from = Path(args[args.index("--jars-from") + 1])
    jars = sorted(path for path in jars_from.glob("*.jar"))
    changed = spark_install.install(home, jars, REPO / args[args.index("--defaults") + 1],
                                    REPO / args[args.index("--log4j") + 1], args[args.index("--python") + 1])
    assert sorted(jar.name for jar in spark_install.connector_jars(home)) == sorted(names)
    assert "conf/spark-defaults.conf" in changed and "conf/log4j2.properties" in changed
    assert "spark.pyspark.python                             /usr/local/bin/python" in (home / "conf/spark-defaults.conf").read_text()


def test_hadoop_aws_matches_the_hadoop_client_inside_pyspark():
    clients = list((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    assert clients, "pyspark ships hadoop-client-api"
    client_version = re.search(r"hadoop-client-api-([\d.]+)\.jar", clients[0].name).group(1)
    assert dockerfile_arg("HADOOP_VERSION") == client_version
    pinned = re.search(r'"pyspark==([\d.]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert pyspark.__version__ == pinned


def test_delta_jars_are_built_for_the_pinned_spark_and_named_alike_in_the_readme():
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    artifact, version = dockerfile_arg("DELTA_SPARK_ARTIFACT"), dockerfile_arg("DELTA_VERSION")
    # Delta 4.1 publishes delta-spark_<spark minor>_<scala>; its own minor follows Spark's.
    assert artifact == f"delta-spark_{spark_minor}_2.13"
    assert version.startswith(spark_minor + ".")
    readme = (REPO / "docker/README.md").read_text()
    for jar in (f"{artifact}-{version}.jar", f"delta-storage-{version}.jar"):
        assert f"/opt/sparkmlops/jars/delta/{jar}" in readme


def test_every_copied_path_exists():
    sources = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            sources += shlex.split(line)[1:-1]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source


def test_registry_reports_and_runs_are_shared_at_the_same_path_on_driver_and_workers():
    workdir = re.search(r"^WORKDIR (\S+)$", DOCKERFILE, re.M).group(1)
    taxi = yaml.safe_load((REPO / "conf/usecases/taxi_fare.yaml").read_text())
    expected = {f"{workdir}/{taxi['paths']['registry']}", f"{workdir}/{taxi['paths']['reports']}", f"{workdir}/runs"}
    mounts = {}
    for service in ("runner", "spark-worker-1", "spark-worker-2"):
        mounts[service] = {tuple(volume.split(":")) for volume in SERVICES[service]["volumes"]}
        assert {target for _, target in mounts[service]} == expected
        assert all(name in COMPOSE["volumes"] for name, _ in mounts[service])
    assert mounts["runner"] == mounts["spark-worker-1"] == mounts["spark-worker-2"]


def test_no_secret_is_written_into_the_compose_file():
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY|ROOT_USER", key):
                assert re.fullmatch(r"\$\{\w+:-[^}]*\}", str(value)), f"{name}.{key} must come from the environment"


def test_buckets_created_by_minio_init_cover_the_runners_lake():
    script = " ".join(SERVICES["minio-init"]["command"])
    buckets = set(re.findall(r"mc mb --ignore-existing lake/([\w.-]+)", script))
    lake = arg_after(SERVICES["runner"]["command"], "--data-base-path")
    assert lake.startswith("s3a://") and lake[6:].split("/")[0] in buckets


def test_runner_command_uses_only_flags_run_pipeline_accepts():
    wrapper = (REPO / "run_pipeline.sh").read_text()
    accepted = set(re.findall(r"(--[a-z-]+)(?=[|)])", wrapper))
    command = SERVICES["runner"]["command"]
    assert command[0] == "./run_pipeline.sh"
    used = {arg for arg in command if arg.startswith("--")}
    assert used and used <= accepted, used - accepted


def test_docker_readme_commands_name_existing_services():
    text = (REPO / "docker/README.md").read_text()
    commands = re.findall(r"docker compose -f docker/docker-compose.yml ((?:[^\n\\]|\\\n)+)", text)
    assert len(commands) >= 5
    for command in commands:
        words = shlex.split(command.replace("\\\n", " "))
        action, rest = words[0], words[1:]
        if action == "run":
            names = [next(w for w in rest if not w.startswith("-"))]
        elif action == "up":
            names = [w for w in rest if not w.startswith("-")]
        else:
            names = []
        for service in names:
            assert service in SERVICES, f"docker/README.md names unknown service {service!r}"


@pytest.mark.parametrize("port_key", ["spark-master", "minio", "mlflow", "dashboard"])
def test_readme_ui_table_matches_published_ports(port_key):
    published = {port.split(":")[0] for port in SERVICES[port_key]["ports"]}
    text = (REPO / "docker/README.md").read_text()
    assert any(f"localhost:{port}" in text for port in published)


def test_the_dashboard_reads_the_runners_reports_and_registry_read_only():
    mounts = {volume.split(":")[1]: volume for volume in SERVICES["dashboard"]["volumes"]}
    runner = {volume.split(":")[1]: volume.split(":")[0] for volume in SERVICES["runner"]["volumes"]}
    command = SERVICES["dashboard"]["command"]
    for flag in ("--reports-dir", "--model-registry-path"):
        path = arg_after(command, flag)
        assert mounts[path].endswith(":ro") and mounts[path].split(":")[0] == runner[path]
    assert arg_after(command, "--port") == SERVICES["dashboard"]["ports"][0].split(":")[-1]
