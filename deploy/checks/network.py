"""The NetworkPolicies: who may open a connection to which pod and port,
per rendering and in the temporal-frontend example, against the peers
expected for every container port."""

from .common import fail, matches, name_of, render

# Who may open a connection to which pod and port, per rendering: (the
# peer's namespace, its app.kubernetes.io/name), SAME for the namespace of
# the policy, "*" for any pod. Every container port of every rendered pod
# must allow exactly these peers (nothing when not listed), with the base's
# default deny. The other namespaces by their kubernetes.io/metadata.name,
# as deploy/README.md's "Network policies" names them.
SAME = "<same namespace>"
BASE_INGRESS = {
    ("api", 8080): {("ingress-nginx", "*")},
    ("api", 9465): {("monitoring", "*"), ("operators", "*")},
    ("flights", 8081): {(SAME, "api"), (SAME, "worker"), ("monitoring", "*")},
    ("worker", 8082): {(SAME, "kannel"), ("monitoring", "*")},
    ("worker", 9464): {("monitoring", "*")},
}
DEV_INGRESS = BASE_INGRESS | {
    ("api", 8080): BASE_INGRESS[("api", 8080)] | {(SAME, "localstripe")},
    ("temporal", 7233): {(SAME, "api"), (SAME, "worker"), ("keda", "keda-operator")},
    ("postgres", 5432): {(SAME, n) for n in
                         ("api", "flights", "worker", "airline-migrate", "airline-seed")},
    ("localstripe", 8420): {(SAME, "worker")},
    ("mailpit", 1025): {(SAME, "api"), (SAME, "worker")},
}
INGRESS = {"base": BASE_INGRESS, "overlays/dev": DEV_INGRESS}
# Peers the renderings expect beside them without containing them.
EXTERNAL_PEERS = {"kannel"}
# The example for Temporal's namespace (deploy/temporal-frontend): the
# frontend's gRPC port from Temporal's own pods, the gateway and the
# worker, and KEDA's operator; its metrics from Prometheus.
TEMPORAL_FRONTEND = {"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "frontend"}
TEMPORAL_FRONTEND_INGRESS = {
    7233: {(SAME, "temporal"), ("airline", "api"), ("airline", "worker"), ("keda", "keda-operator")},
    9090: {(SAME, "temporal"), ("monitoring", "*")},
}


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels, matchExpressions) against labels."""
    if not matches(selector.get("matchLabels", {}), labels):
        return False
    for e in selector.get("matchExpressions", []):
        value, op = labels.get(e["key"]), e["operator"]
        if op == "In" and value not in e["values"]:
            return False
        if op == "NotIn" and value in e["values"]:
            return False
        if op == "Exists" and e["key"] not in labels:
            return False
        if op == "DoesNotExist" and e["key"] in labels:
            return False
    return True


def peer_keys(at: str, peer: dict) -> set:
    """(namespace, app.kubernetes.io/name) of a policy peer, "*" for any."""
    if "ipBlock" in peer:
        fail(at, f"ipBlock peer {peer['ipBlock']}: name namespaces and pods instead")
        return set()
    ns = SAME
    if "namespaceSelector" in peer:
        sel = peer["namespaceSelector"]
        labels = sel.get("matchLabels", {})
        if sel.get("matchExpressions") or set(labels) - {"kubernetes.io/metadata.name"}:
            fail(at, f"namespaceSelector {sel}: select by kubernetes.io/metadata.name only")
            return set()
        ns = labels.get("kubernetes.io/metadata.name", "*")
    sel = peer.get("podSelector", {})
    labels, exprs = sel.get("matchLabels", {}), sel.get("matchExpressions", [])
    if set(labels) - {"app.kubernetes.io/name"} or any(
            e["key"] != "app.kubernetes.io/name" or e["operator"] != "In" for e in exprs):
        fail(at, f"podSelector {sel}: select by app.kubernetes.io/name only")
        return set()
    if not labels and not exprs:
        return {(ns, "*")}
    names = {labels["app.kubernetes.io/name"]} if labels else None
    for e in exprs:
        names = set(e["values"]) if names is None else names & set(e["values"])
    return {(ns, n) for n in names}


def allowed_peers(where: str, policies: list[dict], labels: dict, port: int,
                  named: dict) -> set | None:
    """The peers let in to a pod with `labels` on `port` (named: its
    container ports by name); None when no policy isolates the pod."""
    isolated, peers = False, set()
    for pol in policies:
        spec = pol["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]) or not selects(spec["podSelector"], labels):
            continue
        isolated = True
        at = f"{where} {name_of(pol)}"
        for rule in spec.get("ingress", []):
            ports = rule.get("ports")
            if ports and not any(
                p.get("protocol", "TCP") == "TCP"
                and (p.get("port") == port or named.get(p.get("port")) == port
                     or (isinstance(p.get("port"), int) and p.get("endPort")
                         and p["port"] <= port <= p["endPort"]))
                for p in ports
            ):
                continue
            if not rule.get("from"):
                peers.add(("*", "*"))
            for peer in rule.get("from", []):
                peers |= peer_keys(at, peer)
    return peers if isolated else None


def check_network(where: str, objs: list[dict], expected: dict, rendered_names: set) -> None:
    """Every container port of every pod lets in exactly the expected peers;
    every policy selects a pod; same-namespace peers are pods here."""
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    pods = [
        (o, o["spec"]["template"]) for o in objs if o["kind"] in ("Deployment", "Job")
    ]
    seen = set()
    for obj, template in pods:
        labels = template.get("metadata", {}).get("labels", {})
        name = labels.get("app.kubernetes.io/name")
        if name is None:
            fail(f"{where} {name_of(obj)}", "pods have no app.kubernetes.io/name: no policy can name them")
            continue
        ports = {p["containerPort"]: p.get("name") for c in template["spec"]["containers"]
                 for p in c.get("ports", []) if p.get("protocol", "TCP") == "TCP"}
        named = {n: num for num, n in ports.items() if n}
        for port in ports:
            seen.add((name, port))
            got = allowed_peers(where, policies, labels, port, named)
            want = expected.get((name, port), set())
            if got is None:
                fail(f"{where} {name_of(obj)}", f"port {port}: no NetworkPolicy selects these pods "
                     "(is the default deny missing?)")
            elif got != want:
                fail(f"{where} {name_of(obj)}", f"port {port} lets in {sorted(got) or 'no one'}, "
                     f"expected {sorted(want) or 'no one'}")
    for key in sorted(set(expected) - seen):
        fail(where, f"no pod {key[0]} with port {key[1]} to apply the expected policy to")
    for pol in policies:
        at = f"{where} {name_of(pol)}"
        if not any(selects(pol["spec"]["podSelector"], t.get("metadata", {}).get("labels", {}))
                   for _, t in pods) and pol["spec"]["podSelector"]:
            if rendered_names:
                fail(at, f"podSelector {pol['spec']['podSelector']} selects no pod here")
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    continue
                for _, n in peer_keys(at, peer):
                    if rendered_names and n != "*" and n not in rendered_names | EXTERNAL_PEERS:
                        fail(at, f"peer app.kubernetes.io/name={n} is no pod of this rendering")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
            and "Ingress" in p["spec"].get("policyTypes", [])]
    if rendered_names and not deny:
        fail(where, "no default-deny ingress NetworkPolicy (podSelector {}, no ingress rules)")


def check_network_policies(where: str, objs: list[dict]) -> None:
    expected = INGRESS.get(where)
    if expected is None:
        return
    names = {o["spec"]["template"].get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name")
             for o in objs if o["kind"] in ("Deployment", "Job")} - {None}
    check_network(where, objs, expected, names)


def check_temporal_frontend_example() -> None:
    where = "temporal-frontend"
    objs = render(where)
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    if not policies:
        fail(where, "no NetworkPolicy")
    for port, want in TEMPORAL_FRONTEND_INGRESS.items():
        got = allowed_peers(where, policies, TEMPORAL_FRONTEND, port, {})
        if got != want:
            fail(where, f"the frontend's port {port} lets in {sorted(got or [])}, expected {sorted(want)}")
    got = allowed_peers(where, policies, TEMPORAL_FRONTEND, 7234, {})
    if got != {(SAME, "temporal")}:
        fail(where, f"the frontend's other ports let in {sorted(got or [])}, expected Temporal's own pods only")
    return objs
