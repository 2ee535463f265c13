from wfhub.cli import app

app(prog_name="wfhub")
