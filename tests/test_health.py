"""``GET /healthz``."""


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


def test_healthz_answers_503_when_the_database_does_not(make_app, tmp_path):
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "dir.db").mkdir()
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dir.db'}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "database" in response.text
