"""The demo: five fictional Arabic outlets served on loopback, and a demo editor account.

`crossfeed up --demo` starts `DemoFeedServer` in its own process, adds the outlets as sources
and prints the editor's credentials, so a new user sees articles arrive within a minute without
any internet access. The articles (outlets.json) were written for the project.
"""
