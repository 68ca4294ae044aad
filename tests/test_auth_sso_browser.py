"""Single sign-on end to end: the served app, Streamlit's OIDC login (st.login) and a
small stand-in identity provider (discovery document, authorize, token, JWKS, RS256 ID
tokens) set up like an Entra ID app registration with app roles."""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from akrim_analytics import audit, auth, db, users

from conftest import REPO, assert_no_error_box, free_port, serve_app, wait_for_app

pytestmark = pytest.mark.browser

CLIENT_ID = "akrim-test-client"
CLIENT_SECRET = "s3cret-for-tests-only"


class FakeIdP:
    """Issues an ID token for whichever person the test chose (``next_claims``)."""

    def __init__(self):
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.codes: dict[str, dict] = {}
        self.next_claims: dict = {}
        self.token_requests = 0
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, obj, status=200):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path == "/.well-known/openid-configuration":
                    return self._json({
                        "issuer": idp.url, "authorization_endpoint": idp.url + "/authorize",
                        "token_endpoint": idp.url + "/token", "jwks_uri": idp.url + "/jwks",
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})
                if u.path == "/jwks":
                    return self._json({"keys": [idp.key.as_dict(private=False)]})
                if u.path == "/authorize":
                    assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
                    code = f"code{len(idp.codes)}"
                    idp.codes[code] = {"nonce": q.get("nonce"), "claims": dict(idp.next_claims)}
                    target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return
                self._json({"error": "not found"}, 404)

            def do_POST(self):
                from joserfc import jwt

                n = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                grant = idp.codes.pop(form.get("code", ""), None)
                if self.path != "/token" or grant is None:
                    return self._json({"error": "invalid_grant"}, 400)
                idp.token_requests += 1
                now = int(time.time())
                claims = {"iss": idp.url, "aud": CLIENT_ID, "sub": "sub-" + grant["claims"].get("preferred_username", "x"),
                          "iat": now, "exp": now + 3600, "nonce": grant["nonce"], **grant["claims"]}
                token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, idp.key)
                self._json({"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": token})

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory):
    idp = FakeIdP()
    tmp = tmp_path_factory.mktemp("sso")
    path = tmp / "kommune.duckdb"
    c = db.connect(path)
    users.create_user(c, auth.SYSTEM, "sperret@kommune.no", "leder")
    users.update_user(c, auth.User("ops", "admin"), "sperret@kommune.no", active=False)
    c.close()
    port = free_port()
    secrets = tmp / "secrets.toml"
    secrets.write_text(f'''
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-long-random-cookie-secret-for-the-test-only-0123456789"

[auth.entra]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{idp.url}/.well-known/openid-configuration"

[access]
identity_claim = ["preferred_username", "email"]
role_claim = "roles"
[access.role_map]
"AKrim.Leder" = "leder"
"AKrim.Admin" = "admin"
''', encoding="utf-8")
    with serve_app(path, port, ("--secrets.files", str(secrets))) as (url, proc):
        yield url, idp, path, proc
    idp.close()


def _sign_in(page, url, idp, claims):
    idp.next_claims = claims
    page.goto(url + "/")
    wait_for_app(page)
    page.get_by_role("button", name="Logg inn med kommunens konto").click()
    page.wait_for_url(url + "/**", timeout=30000)
    wait_for_app(page)


def test_entra_style_login_maps_app_roles(sso_server, browser):
    url, idp, path, _ = sso_server
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="nb-NO")
    page = ctx.new_page()
    try:
        _sign_in(page, url, idp, {"preferred_username": "Lea.Leder@Kommune.no", "name": "Lea Leder",
                                  "roles": ["AKrim.Leder"]})
        page.get_by_text("Innlogget som").wait_for(timeout=30000)
        page.get_by_role("heading", name="Oversikt").wait_for(timeout=30000)
        wait_for_app(page)
        assert page.get_by_text("Lea Leder").count() >= 1 and page.get_by_text("(Leder)").count() >= 1
        assert page.get_by_role("link", name="Brukere").count() == 0       # not for a leder
        assert_no_error_box(page, "auth_sso_leder")
        assert idp.token_requests == 1

        page.get_by_role("button", name="Logg ut").click()
        page.get_by_role("button", name="Logg inn med kommunens konto").wait_for(timeout=30000)
    finally:
        ctx.close()


def test_refused_and_deactivated_people_stay_out(sso_server, browser):
    url, idp, path, _ = sso_server
    for claims, name in (({"preferred_username": "fremmed@kommune.no"}, "auth_sso_not_allowed"),
                         ({"preferred_username": "sperret@kommune.no", "roles": ["AKrim.Admin"]}, "auth_sso_inactive")):
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="nb-NO")
        page = ctx.new_page()
        try:
            _sign_in(page, url, idp, claims)
            page.get_by_text("har ikke tilgang").wait_for(timeout=30000)
            page.screenshot(path=str(REPO / "test-artifacts" / f"{name}.png"), full_page=True)
            assert page.get_by_text("Innlogget som").count() == 0
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        finally:
            ctx.close()


def test_logins_and_refusals_are_in_the_audit_log(sso_server):
    url, idp, path, proc = sso_server
    proc.terminate()                      # DuckDB: one process per file; the server is done
    proc.wait(20)
    c = db.connect(path, read_only=True)
    try:
        e = audit.entries(c, actions=["login", "logout", "login_failed"])
    finally:
        c.close()
    rows = e[["username", "action"]].values.tolist()[::-1]
    assert rows == [["lea.leder@kommune.no", "login"], ["lea.leder@kommune.no", "logout"],
                    ["fremmed@kommune.no", "login_failed"], ["sperret@kommune.no", "login_failed"]]
    details = [json.loads(d) for d in e["details"]][::-1]
    assert details[0] == {"method": "sso", "role": "leder", "via": "claim"}
    assert [d["reason"] for d in details[2:]] == ["not_allowed", "inactive"]
