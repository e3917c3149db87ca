from flask import render_template

from webapp.admin import bp


@bp.get("/")
def index():
    return render_template("admin/index.html")
