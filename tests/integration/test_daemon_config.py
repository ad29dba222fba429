"""Daemon-mode configuration (issue 4 §1), checked with `apache2 -t`: WSGIDaemonProcess and its
options, WSGISocketPrefix, WSGIRestrictProcess, WSGISocketRotation and WSGIAcceptMutex."""

import grp
import pwd

import pytest

# Every option of mod_wsgi 6, plus the two New Relic ones of Debian's 4.9.4 (ignored).
FULL = (
    "WSGIDaemonProcess full processes=2 threads=5 display-name=%{{GROUP}} user={user} "
    "group={group} supplementary-groups={group} umask=0027 home=/tmp lang=en_US.UTF-8 "
    "locale=C.UTF-8 python-home=/usr python-path=/tmp:/var/tmp python-eggs=/tmp "
    "switch-interval=0.005 cpu-priority=5 maximum-requests=1000 restart-interval=3600 "
    "cpu-time-limit=600 inactivity-timeout=300 request-timeout=60 interrupt-timeout=10 "
    "deadlock-timeout=60 startup-timeout=15 graceful-timeout=15 eviction-timeout=0 "
    "shutdown-timeout=5 connect-timeout=15 socket-timeout=60 queue-timeout=45 "
    "listen-backlog=200 socket-user={user} send-buffer-size=65536 receive-buffer-size=65536 "
    "header-buffer-size=65536 response-buffer-size=1048576 response-socket-timeout=30 "
    "response-flush-delay=10 stack-size=524288 memory-limit=1073741824 "
    "virtual-memory-limit=4294967296 script-user={user} server-metrics=On "
    "newrelic-config-file=/etc/newrelic.ini newrelic-environment=production\n"
)


def nobody():
    return pwd.getpwnam("nobody").pw_name, grp.getgrnam("nogroup").gr_name


def assert_ok(rc, output):
    assert rc == 0, output
    assert "Syntax OK" in output, output


def assert_fails(rc, output, *names):
    assert rc != 0, output
    for name in names:
        assert name in output, (name, output)


def test_every_option_of_mod_wsgi_6_passes(config_test):
    user, group = nobody()
    assert_ok(*config_test(FULL.format(user=user, group=group)))


def test_defaults_only_and_quoted_values_pass(config_test):
    assert_ok(
        *config_test(
            "WSGIDaemonProcess plain\n"
            "WSGIDaemonProcess quoted display-name='%{GROUP}' lang='en_US.UTF-8' "
            "locale=\"en_US.UTF-8\"\n"
            "WSGIDaemonProcess spaced display-name='my app (wsgi)' threads=1\n"
            "WSGIDaemonProcess numeric user=#65534 group=#65534 socket-user=#1234\n"
            "WSGIScriptAlias /x {apps}/hello.wsgi process-group=plain application-group=%{GLOBAL}\n"
            "WSGIProcessGroup quoted\n"
        )
    )


def test_groups_in_virtual_hosts_pass(config_test):
    assert_ok(
        *config_test(
            """
<VirtualHost *:80>
    ServerName one.example
    WSGIDaemonProcess one.example processes=2 threads=3 display-name=%{GROUP}
    WSGIProcessGroup one.example
</VirtualHost>
<VirtualHost *:80>
    ServerName two.example
    WSGIDaemonProcess two.example threads=1
    WSGIProcessGroup two.example
    WSGIRestrictProcess two.example one.example
</VirtualHost>
"""
        )
    )


@pytest.mark.parametrize(
    "options, option",
    [
        ("processes=0", "processes"),
        ("processes=two", "processes"),
        ("threads=-1", "threads"),
        ("umask=0999", "umask"),
        ("home=relative", "home"),
        ("cpu-priority=40", "cpu-priority"),
        ("maximum-requests=-5", "maximum-requests"),
        ("inactivity-timeout=-1", "inactivity-timeout"),
        ("request-timeout=soon", "request-timeout"),
        ("switch-interval=0", "switch-interval"),
        ("listen-backlog=0", "listen-backlog"),
        ("header-buffer-size=100", "header-buffer-size"),
        ("response-buffer-size=-1", "response-buffer-size"),
        ("stack-size=12", "stack-size"),
        ("memory-limit=lots", "memory-limit"),
        ("server-metrics=maybe", "server-metrics"),
        ("script-user=nobody script-group=nogroup", "script-group"),
        ("python-home=/nonexistent/venv", "python-home"),
        ("user=no-such-user-here", "user"),
        ("group=no-such-group-here", "group"),
        ("supplementary-groups=no-such-group-here", "supplementary-groups"),
        ("socket-user=no-such-user-here", "socket-user"),
        ("threads", "threads"),
        ("threads=", "threads"),
        ("threads=2 threads=3", "threads"),
    ],
)
def test_bad_values_fail_naming_directive_and_option(config_test, options, option):
    assert_fails(*config_test(f"WSGIDaemonProcess bad {options}\n"), "WSGIDaemonProcess", option)


@pytest.mark.parametrize("user", ["root", "#0"])
def test_user_root_is_refused(config_test, user):
    assert_fails(*config_test(f"WSGIDaemonProcess bad user={user}\n"), "WSGIDaemonProcess", "root")


def test_unknown_option_is_named(config_test):
    assert_fails(
        *config_test("WSGIDaemonProcess bad threads=2 bogus-option=1\n"),
        "WSGIDaemonProcess",
        "Invalid option to WSGI daemon process definition",
        "bogus-option",
    )


def test_missing_name_fails(config_test):
    assert_fails(*config_test("WSGIDaemonProcess\n"), "WSGIDaemonProcess")


@pytest.mark.parametrize(
    "config",
    [
        "WSGIDaemonProcess site\nWSGIDaemonProcess site threads=1\n",
        "WSGIDaemonProcess site\n<VirtualHost *:80>\n    WSGIDaemonProcess site\n</VirtualHost>\n",
        "<VirtualHost *:80>\n    ServerName a.example\n    WSGIDaemonProcess site\n</VirtualHost>\n"
        "<VirtualHost *:80>\n    ServerName b.example\n    WSGIDaemonProcess site\n</VirtualHost>\n",
    ],
    ids=["main-main", "main-vhost", "vhost-vhost"],
)
def test_duplicate_group_names_fail(config_test, config):
    assert_fails(*config_test(config), "WSGIDaemonProcess", "site", "duplicates")


def test_daemon_process_is_refused_in_a_directory(config_test):
    assert_fails(
        *config_test("<Location /x>\n    WSGIDaemonProcess site\n</Location>\n"),
        "WSGIDaemonProcess",
    )


def test_socket_prefix_rotation_and_accept_mutex_in_main_server_pass(config_test):
    assert_ok(
        *config_test(
            "WSGISocketPrefix run/wsgi\nWSGISocketRotation Off\nWSGIAcceptMutex fcntl\n"
            "WSGIDaemonProcess site\n"
        )
    )
    assert_ok(*config_test("WSGISocketPrefix /tmp/wsgi\nWSGIAcceptMutex Default\n"))


@pytest.mark.parametrize(
    "directive, value",
    [
        ("WSGISocketPrefix", "/tmp/wsgi"),
        ("WSGISocketRotation", "Off"),
        ("WSGIAcceptMutex", "default"),
    ],
)
def test_main_server_only_directives_fail_in_a_virtual_host(config_test, directive, value):
    assert_fails(
        *config_test(f"<VirtualHost *:80>\n    {directive} {value}\n</VirtualHost>\n"),
        directive,
    )


@pytest.mark.parametrize(
    "config, directive",
    [
        ("WSGISocketRotation sometimes", "WSGISocketRotation"),
        ("WSGIAcceptMutex spinlock", "WSGIAcceptMutex"),
        ('WSGISocketPrefix ""', "WSGISocketPrefix"),
    ],
)
def test_bad_socket_directives_fail(config_test, config, directive):
    assert_fails(*config_test(config + "\n"), directive)


def test_restrict_process_in_every_scope_passes(config_test):
    assert_ok(
        *config_test(
            """
WSGIDaemonProcess a
WSGIDaemonProcess b
WSGIRestrictProcess a
<VirtualHost *:80>
    WSGIRestrictProcess a b
</VirtualHost>
<Location /x>
    WSGIRestrictProcess b
    WSGIRestrictProcess a
</Location>
<Directory {apps}>
    WSGIRestrictProcess a
</Directory>
"""
        )
    )


def test_restrict_process_in_files_section_passes(config_test):
    assert_ok(*config_test("<Files x.wsgi>\n    WSGIRestrictProcess a\n</Files>\n"))
