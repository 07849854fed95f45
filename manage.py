#!/usr/bin/env python
"""Django's command-line utility for administrative tasks (installed as `helpdesk-manage`)."""

from helpdesk.manage import main

if __name__ == "__main__":
    main()
