"""gunicorn's settings for webcare, read from the working directory (or `-c`).

Logging only; workers and bind are given on the command line (README). The access log
leaves out the query string and the referrer (search terms, other pages' addresses)
and, like the error log, goes through webcare.logging.RedactFilter: a survey token in
the path (/s/<token>/) or any credential is never written.
"""

# The request line without its query: method, path, protocol.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)s'
)

_FORMATTER = {
    "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
    "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
    "class": "logging.Formatter",
}

# Setting a logconfig_dict also turns the access log on (to stdout here).
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "webcare.logging.RedactFilter"}},
    "formatters": {"generic": _FORMATTER},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stdout",
            "filters": ["redact"],
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
            "filters": ["redact"],
        },
    },
    "root": {"level": "INFO", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {
            "level": "INFO",
            "handlers": ["error_console"],
            "propagate": False,
        },
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["console"],
            "propagate": False,
        },
    },
}
