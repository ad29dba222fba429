// mod_wsgi-express: option resolution and the generated files, without Apache.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "express/options.hpp"
#include "express/server_files.hpp"

namespace express {
namespace {

namespace fs = std::filesystem;

class ExpressTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("express-test-" + std::to_string(getpid()));
        fs::create_directories(dir_ / "static");
        std::ofstream(dir_ / "app.wsgi") << "application = None\n";
        facts_.uid = 1000;
        facts_.cwd = dir_.string();
        facts_.module_path = "/build/mod_wsgi.so";
        facts_.available_mpms = {"event", "worker", "prefork"};
        options_.target = "app.wsgi";
        options_.modules_directory = "/usr/lib/apache2/modules";
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
    Facts facts_;
    ServerOptions options_;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_F(ExpressTest, DefaultsAreModWsgiExpresss) {
    Plan plan = resolve(options_, facts_);
    EXPECT_EQ(plan.server_root, "/tmp/mod_wsgi-localhost:8000:1000");
    EXPECT_EQ(plan.process_group, "localhost:8000");
    EXPECT_EQ(plan.script, (dir_ / "app.wsgi").string());
    EXPECT_EQ(plan.mpm, "event");
    EXPECT_EQ(server_url(plan), "http://localhost:8000/");
    std::string conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "Listen 8000\n"));
    EXPECT_TRUE(contains(conf, "WSGIRestrictEmbedded On\n"));
    EXPECT_TRUE(contains(conf, "    threads=5 \\\n"));
    EXPECT_TRUE(contains(conf, "    request-timeout=60 \\\n"));
    EXPECT_FALSE(contains(conf, "processes="));  // only when given
    EXPECT_FALSE(contains(conf, "\nUser "));      // not started as root
    EXPECT_TRUE(contains(conf, "WSGIScriptAlias \"/\" \"" + plan.script + "\""));
    EXPECT_TRUE(contains(conf, "LoadModule wsgi_module \"/build/mod_wsgi.so\"\n"));
}

TEST_F(ExpressTest, RootRunsChildrenAsWwwData) {
    facts_.uid = 0;
    Plan plan = resolve(options_, facts_);
    EXPECT_EQ(plan.run_user, "www-data");
    plan.run_group = "www-data";
    EXPECT_TRUE(contains(render_httpd_conf(plan), "\nUser www-data\nGroup www-data\n"));
}

TEST_F(ExpressTest, ModuleTargetGetsAHandlerScript) {
    options_.application_type = "module";
    options_.target = "pkg.web:make_app";
    Plan plan = resolve(options_, facts_);
    EXPECT_EQ(plan.script, plan.server_root + "/handler.wsgi");
    std::string handler = render_handler_script(plan);
    EXPECT_TRUE(contains(handler, "importlib.import_module(\"pkg.web\"), \"make_app\")"));
    options_.target = "pkg.web";
    options_.callable_object = "app";
    EXPECT_EQ(resolve(options_, facts_).module_callable, "app");
    options_.target = "pkg/web.py";
    EXPECT_THROW(resolve(options_, facts_), UsageError);
}

TEST_F(ExpressTest, EmbeddedModeHasNoDaemonProcessGroup) {
    options_.embedded_mode = true;
    options_.reload_on_changes = true;
    Plan plan = resolve(options_, facts_);
    std::string conf = render_httpd_conf(plan);
    EXPECT_FALSE(contains(conf, "WSGIDaemonProcess"));
    EXPECT_FALSE(contains(conf, "process-group="));
    EXPECT_TRUE(contains(conf, "WSGIPythonPath \"" + dir_.string() + "\""));
    EXPECT_EQ(plan.reload_monitor, "");  // daemon mode only, with a warning
    EXPECT_EQ(plan.warnings.size(), 1u);
}

TEST_F(ExpressTest, UrlAliasesLongestFirst) {
    options_.url_aliases = {{"/s", "static"}, {"/s/deeper", "static"}};
    Plan plan = resolve(options_, facts_);
    std::string conf = render_httpd_conf(plan);
    EXPECT_LT(conf.find("Alias \"/s/deeper\""), conf.find("Alias \"/s\""));
    EXPECT_TRUE(contains(conf, "LoadModule alias_module"));
}

TEST_F(ExpressTest, DocumentRootFilesComeBeforeTheApplication) {
    options_.url_aliases = {{"/s.x", "static"}};
    options_.directory_index = "index.html";
    Plan plan = resolve(options_, facts_);
    std::string conf = render_httpd_conf(plan);
    std::string root = plan.document_root;
    EXPECT_TRUE(contains(conf, "LoadModule rewrite_module"));
    EXPECT_TRUE(contains(conf, "RewriteCond \"$1\" \"!^/s\\.x(/|$)\"\n"));
    EXPECT_TRUE(contains(conf, "RewriteCond \"" + root + "$1\" -f\n"
                               "RewriteRule \"^(/.*)$\" \"" + root + "$1\" [L]\n"));
    EXPECT_TRUE(contains(conf, "RewriteCond \"" + root + "$1/index.html\" -f\n"));
    // Before the application's WSGIScriptAlias is looked at: mod_rewrite's translate_name.
    EXPECT_LT(conf.find("RewriteRule"), conf.find("WSGIScriptAlias"));

    options_.mount_point = "/api.v1/";
    options_.document_root = "static";
    plan = resolve(options_, facts_);
    conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "RewriteRule \"^(/api\\.v1(/.*)?)$\" \"" +
                                   (dir_ / "static").string() + "$1\" [L]\n"));
}

TEST_F(ExpressTest, BadOptionsThrow) {
    ServerOptions o = options_;
    o.target = "missing.wsgi";
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.port = 80;  // privileged, not root
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.https_port = 8443;  // no certificate
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.mount_point = "api";
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.process_group = "two words";
    EXPECT_THROW(resolve(o, facts_), UsageError);
}

TEST_F(ExpressTest, TrustedProxies) {
    options_.trusted_proxy_headers = {"X-Forwarded-For", "x-forwarded-proto"};
    options_.trusted_proxies = {"127.0.0.1", "10.0.0.0/8"};
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "WSGITrustedProxyHeaders X-Forwarded-For x-forwarded-proto\n"));
    EXPECT_TRUE(contains(conf, "WSGITrustedProxies 127.0.0.1 10.0.0.0/8\n"));
    ServerOptions o = options_;
    o.trusted_proxy_headers = {"X-Not-A-Proxy-Header"};
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.trusted_proxies = {"10.0.0.0/33"};
    EXPECT_THROW(resolve(o, facts_), UsageError);
}

TEST_F(ExpressTest, LogFormatsNamesAndRotation) {
    options_.access_log = true;
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "CustomLog \"/tmp/mod_wsgi-localhost:8000:1000/access_log\" "
                               "common\n"));  // mod_wsgi-express's default
    options_.access_log_format = "combined";
    EXPECT_TRUE(contains(render_httpd_conf(resolve(options_, facts_)), "\" combined\n"));
    options_.access_log_format = "%h \"%r\" %>s";
    options_.error_log_format = "[%l] [client\\ %a] %M";
    options_.access_log_name = "web.log";
    options_.error_log_name = "problems.log";
    options_.rotate_logs = true;
    options_.max_log_size = 2;
    options_.rotatelogs_executable = "/bin/true";
    Plan plan = resolve(options_, facts_);
    conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "LogFormat \"%h \\\"%r\\\" %>s\" custom\n"));
    EXPECT_TRUE(contains(conf, "ErrorLogFormat \"[%l] [client\\\\ %a] %M\"\n"));
    EXPECT_TRUE(contains(conf, "ErrorLog \"|/bin/true " + plan.server_root +
                                   "/problems.log.%Y-%m-%d-%H_%M_%S 2M\"\n"));
    EXPECT_TRUE(contains(conf, "CustomLog \"|/bin/true " + plan.server_root +
                                   "/web.log.%Y-%m-%d-%H_%M_%S 2M\" custom\n"));
    options_.log_to_terminal = true;  // turns rotation off, as in mod_wsgi-express
    EXPECT_TRUE(contains(render_httpd_conf(resolve(options_, facts_)),
                         "ErrorLog \"/dev/stderr\"\n"));
    ServerOptions o = options_;
    o.log_to_terminal = false;
    o.rotatelogs_executable = "/no/such/rotatelogs";
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.error_log_name = "../escape";
    EXPECT_THROW(resolve(o, facts_), UsageError);
}

TEST_F(ExpressTest, ServerNameMakesNameBasedVirtualHosts) {
    options_.server_aliases = {"www.example.test"};
    options_.allow_localhost = true;
    Plan plan = resolve(options_, facts_);
    EXPECT_EQ(plan.warnings.size(), 2u);  // ignored without --server-name, as by the original
    EXPECT_FALSE(contains(render_httpd_conf(plan), "<VirtualHost"));

    options_.server_name = "example.test";
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    size_t catch_all = conf.find("ServerName _default_");
    size_t named = conf.find("    ServerName example.test\n    ServerAlias www.example.test\n");
    ASSERT_NE(catch_all, std::string::npos);
    ASSERT_NE(named, std::string::npos);
    EXPECT_LT(catch_all, named);  // the first virtual host answers unknown names
    EXPECT_TRUE(contains(conf, "RewriteCond expr \"! (-R '127.0.0.0/8' || -R '::1')\"\n"));
    EXPECT_TRUE(contains(conf, "LoadModule authz_host_module"));
    EXPECT_FALSE(contains(conf, "Redirect permanent"));

    options_.server_name = "www.example.test";
    conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "    ServerName example.test\n"
                               "    Redirect permanent \"/\" \"http://www.example.test:8000/\"\n"));
    EXPECT_TRUE(contains(conf, "LoadModule alias_module"));
}

TEST_F(ExpressTest, HttpsOnlyAndHsts) {
    std::ofstream(dir_ / "server.crt") << "x";
    std::ofstream(dir_ / "server.key") << "x";
    options_.https_port = 8443;
    options_.ssl_certificate = "server";
    options_.https_only = true;
    options_.hsts_policy = "max-age=31536000";
    Plan plan = resolve(options_, facts_);
    std::string conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "RewriteCond %{HTTPS} !=on\nRewriteRule \"^\" "
                               "\"https://localhost:8443%{REQUEST_URI}\" [R=302,L]\n"));
    EXPECT_TRUE(contains(conf, "Header always set Strict-Transport-Security "
                               "\"max-age=31536000\"\n"));
    EXPECT_TRUE(contains(conf, "LoadModule headers_module"));
    options_.https_port.reset();
    options_.ssl_certificate.clear();
    plan = resolve(options_, facts_);
    EXPECT_FALSE(plan.https_only);
    EXPECT_EQ(plan.warnings.size(), 2u);
    EXPECT_FALSE(contains(render_httpd_conf(plan), "Strict-Transport-Security"));
}

TEST_F(ExpressTest, SslChainClientCertificatesHttp2Cgi) {
    for (const char* name : {"server.crt", "server.key", "chain.pem", "ca.pem"}) {
        std::ofstream(dir_ / name) << "x";
    }
    options_.https_port = 8443;
    options_.ssl_certificate = "server";
    options_.ssl_certificate_chain_file = "chain.pem";
    options_.ssl_ca_certificate_file = "ca.pem";
    options_.http2 = true;
    options_.with_cgi = true;
    options_.orphan_interpreter = true;
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "    SSLCertificateChainFile \"" + (dir_ / "chain.pem").string()));
    EXPECT_TRUE(contains(conf, "    SSLVerifyClient require\n"));  // the whole site
    EXPECT_TRUE(contains(conf, "Protocols h2 h2c http/1.1\n"));
    EXPECT_TRUE(contains(conf, "LoadModule http2_module"));
    EXPECT_TRUE(contains(conf, "    Options +ExecCGI\n    AddHandler cgi-script .cgi\n"));
    EXPECT_TRUE(contains(conf, "LoadModule cgid_module"));
    EXPECT_TRUE(contains(conf, "WSGIDestroyInterpreter Off\n"));
    options_.ssl_verify_client_urls = {"/secure"};
    conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "    SSLVerifyClient none\n"));
    EXPECT_TRUE(contains(conf, "    <Location \"/secure\">\n        SSLVerifyClient require\n"));
    options_.ssl_ca_certificate_file.clear();
    EXPECT_THROW(resolve(options_, facts_), UsageError);  // --ssl-verify-client needs a CA
}

TEST_F(ExpressTest, ProxyingKeepAliveAndStartupLogName) {
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "KeepAlive On\nKeepAliveTimeout 2\n"));
    EXPECT_FALSE(contains(conf, "<VirtualHost"));
    options_.proxy_mount_points = {{"/api", "http://127.0.0.1:9000"}, {"/ws/", "ws://b:1/"}};
    options_.proxy_virtual_hosts = {{"back.test", "http://127.0.0.1:9001/"}};
    options_.proxy_timeout = 90;
    options_.keep_alive_timeout = 0;
    options_.startup_log = true;
    options_.startup_log_name = "boot.log";
    Plan plan = resolve(options_, facts_);
    conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "KeepAlive Off\nProxyTimeout 90\n"));
    EXPECT_TRUE(contains(conf, "RedirectMatch 302 \"^/api$\" \"/api/\"\n"
                               "ProxyPass \"/api/\" \"http://127.0.0.1:9000/\"\n"));
    EXPECT_TRUE(contains(conf, "ProxyPass \"/ws/\" \"ws://b:1/\"\n"));
    EXPECT_TRUE(contains(conf, "LoadModule proxy_wstunnel_module"));
    // The server itself stays the default for other host names: the first virtual host.
    size_t first = conf.find("<VirtualHost *:8000>\n    # Requests for any host name not below");
    size_t proxied = conf.find("    ServerName back.test\n    ProxyPass \"/\"");
    ASSERT_NE(first, std::string::npos);
    ASSERT_NE(proxied, std::string::npos);
    EXPECT_LT(first, proxied);
    EXPECT_TRUE(contains(render_apachectl(plan), "-E \"" + plan.server_root + "/boot.log\""));
    options_.proxy_virtual_hosts = {{"back.test", "back:9001"}};
    EXPECT_THROW(resolve(options_, facts_), UsageError);
}

TEST_F(ExpressTest, AddHandlerWritesAResourceScript) {
    std::ofstream(dir_ / "render.py") << "";
    options_.handler_scripts = {{"tmpl", "render.py"}, {".MD", "render.py"}};
    Plan plan = resolve(options_, facts_);
    EXPECT_EQ(plan.resource_script, plan.server_root + "/resource.wsgi");
    std::string conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "WSGIHandlerScript wsgi-resource \"" + plan.resource_script +
                                   "\" process-group=localhost:8000 application-group=%{GLOBAL}"));
    EXPECT_TRUE(contains(conf, "    AddHandler wsgi-resource .tmpl\n"));
    EXPECT_TRUE(contains(conf, "    AddHandler wsgi-resource .MD\n"));
    std::string resource = render_resource_script(plan);
    EXPECT_TRUE(contains(resource, "    \".tmpl\": \"" + (dir_ / "render.py").string() + "\",\n"));
    EXPECT_TRUE(contains(resource, "def handle_request(environ, start_response):"));
    options_.handler_scripts = {{"t/mpl", "render.py"}};
    EXPECT_THROW(resolve(options_, facts_), UsageError);
}

TEST_F(ExpressTest, InitialAndSpareWorkers) {
    options_.max_clients = 100;  // 4 children of 25 threads
    options_.initial_workers = 0.5;
    options_.minimum_spare_workers = 0.25;
    options_.maximum_spare_workers = 0.75;
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "StartServers 2\nServerLimit 4\n"));
    EXPECT_TRUE(contains(conf, "MinSpareThreads 25\nMaxSpareThreads 75\n"));
    options_.server_mpms = {"prefork"};
    conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "StartServers 50\nMinSpareServers 25\nMaxSpareServers 75\n"));
}

TEST_F(ExpressTest, StaticApplicationType) {
    options_.application_type = "static";
    options_.target = "static";
    Plan plan = resolve(options_, facts_);
    EXPECT_TRUE(plan.static_only);
    EXPECT_EQ(plan.document_root, (dir_ / "static").string());
    std::string conf = render_httpd_conf(plan);
    EXPECT_FALSE(contains(conf, "WSGIScriptAlias"));
    EXPECT_FALSE(contains(conf, "WSGIDaemonProcess"));
    EXPECT_FALSE(contains(conf, "RewriteCond"));  // nothing to come before
    EXPECT_TRUE(contains(conf, "WSGIRestrictEmbedded On\n"));
    options_.target.clear();
    EXPECT_EQ(resolve(options_, facts_).document_root, dir_.string());  // the current directory
    options_.handler_scripts = {{".tmpl", "app.wsgi"}};
    EXPECT_THROW(resolve(options_, facts_), UsageError);
}

TEST_F(ExpressTest, ServerMpmPreferenceAsModWsgiExpress) {
    options_.server_mpms = {"prefork", "worker"};
    EXPECT_EQ(resolve(options_, facts_).mpm, "worker");  // event, worker, prefork order
    options_.verbose_debugging = true;
    EXPECT_TRUE(contains(render_httpd_conf(resolve(options_, facts_)),
                         "WSGIVerboseDebugging On\n"));
    facts_.available_mpms = {"prefork"};
    EXPECT_EQ(resolve(options_, facts_).mpm, "prefork");
    options_.http2 = true;
    EXPECT_THROW(resolve(options_, facts_), UsageError);
    options_.http2 = false;
    options_.server_mpms = {"event"};
    EXPECT_THROW(resolve(options_, facts_), UsageError);
}

TEST_F(ExpressTest, CompressionAndRequestOptions) {
    options_.compress_responses = true;
    options_.chunked_request = true;
    options_.enable_sendfile = true;
    options_.map_head_to_get = "Off";
    options_.server_metrics = true;
    options_.server_backlog = 200;
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "LoadModule deflate_module"));
    EXPECT_TRUE(contains(conf, "LoadModule filter_module"));
    EXPECT_TRUE(contains(conf, "AddOutputFilterByType DEFLATE text/html\n"));
    EXPECT_TRUE(contains(conf, "AddOutputFilterByType DEFLATE application/javascript\n"));
    EXPECT_TRUE(contains(conf, "WSGIChunkedRequest On\n"));
    EXPECT_TRUE(contains(conf, "WSGIEnableSendfile On\nEnableSendfile On\n"));
    EXPECT_TRUE(contains(conf, "WSGIMapHEADToGET Off\n"));
    EXPECT_TRUE(contains(conf, "    server-metrics=On"));
    EXPECT_TRUE(contains(conf, "WSGIServerMetrics On\n"));
    EXPECT_TRUE(contains(conf, "ListenBacklog 200\n"));
}

TEST_F(ExpressTest, DaemonOptionsPassedThrough) {
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "    listen-backlog=100"));  // mod_wsgi-express's default
    EXPECT_FALSE(contains(conf, "buffer-size="));          // 0: the module's defaults
    EXPECT_FALSE(contains(conf, "python-eggs="));
    options_.send_buffer_size = 4096;
    options_.receive_buffer_size = 8192;
    options_.header_buffer_size = 65536;
    options_.response_buffer_size = 1048576;
    options_.response_socket_timeout = 30;
    options_.python_eggs = "eggs";
    conf = render_httpd_conf(resolve(options_, facts_));
    for (const char* line : {"    send-buffer-size=4096", "    receive-buffer-size=8192",
                             "    header-buffer-size=65536", "    response-buffer-size=1048576",
                             "    response-socket-timeout=30"}) {
        EXPECT_TRUE(contains(conf, line)) << line;
    }
    EXPECT_TRUE(contains(conf, "    python-eggs=\"" + (dir_ / "eggs").string() + "\""));
    ServerOptions o = options_;
    o.header_buffer_size = 100;  // below the module's minimum
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.send_buffer_size = 511;
    EXPECT_THROW(resolve(o, facts_), UsageError);
}

TEST_F(ExpressTest, RequestReadTimeoutsAndActivity) {
    std::string conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "LoadModule reqtimeout_module"));
    EXPECT_TRUE(
        contains(conf, "RequestReadTimeout header=15-30,MinRate=500 body=15,MinRate=500\n"));
    EXPECT_TRUE(contains(conf, "    eviction-timeout=0 \\\n    interrupt-timeout=0 \\\n"));
    options_.header_timeout = 0;
    options_.body_max_timeout = 60;
    options_.body_min_rate = 0;
    options_.ignore_activity = {"/health"};
    options_.interrupt_timeout = 5;
    conf = render_httpd_conf(resolve(options_, facts_));
    EXPECT_TRUE(contains(conf, "RequestReadTimeout header=0 body=15-60\n"));
    EXPECT_TRUE(contains(conf, "<Location \"/health\">\n    WSGIIgnoreActivity On\n</Location>\n"));
    EXPECT_TRUE(contains(conf, "    interrupt-timeout=5 \\\n"));
    ServerOptions o = options_;
    o.body_max_timeout = 10;  // not above body-timeout 15
    EXPECT_THROW(resolve(o, facts_), UsageError);
}

TEST_F(ExpressTest, ErrorDocumentsDirectoriesAndAccessScripts) {
    std::ofstream(dir_ / "auth.py") << "";
    options_.error_documents = {{"404", "/errors/404.html"}, {"503", "Come back \"later\""}};
    options_.error_override = true;
    options_.directory_listing = true;
    options_.allow_override = {"FileInfo", "Indexes"};
    options_.auth_user_script = "auth.py";
    options_.auth_group_script = "auth.py";
    options_.auth_group = "staff";
    options_.auth_type = "Digest";
    Plan plan = resolve(options_, facts_);
    std::string conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "ErrorDocument 404 \"/errors/404.html\"\n"));
    EXPECT_TRUE(contains(conf, "ErrorDocument 503 \"Come back \\\"later\\\"\"\n"));
    EXPECT_TRUE(contains(conf, "WSGIErrorOverride On\n"));
    EXPECT_TRUE(contains(conf, "    AllowOverride FileInfo Indexes\n    # --directory-listing"));
    EXPECT_TRUE(contains(conf, "    Options +Indexes\n"));
    EXPECT_TRUE(contains(conf, "LoadModule autoindex_module"));
    EXPECT_TRUE(contains(conf, "    AuthType Digest\n"));
    EXPECT_TRUE(contains(conf, "    AuthDigestProvider wsgi\n"));
    EXPECT_TRUE(contains(conf, "LoadModule auth_digest_module"));
    EXPECT_TRUE(contains(conf, "        Require wsgi-group \"staff\"\n"));
    EXPECT_TRUE(contains(conf, "    WSGIAuthUserScript \"" + (dir_ / "auth.py").string()));
    // The scripts run in the Apache children: Python may not be restricted there.
    EXPECT_FALSE(contains(conf, "WSGIRestrictEmbedded On"));

    ServerOptions o = options_;
    o.error_documents = {{"200", "/ok"}};
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.allow_override = {"Everything"};
    EXPECT_THROW(resolve(o, facts_), UsageError);
    o = options_;
    o.host_access_script = "missing.py";
    EXPECT_THROW(resolve(o, facts_), UsageError);
}

TEST_F(ExpressTest, EnvironmentAndProcessName) {
    std::string apachectl = render_apachectl(resolve(options_, facts_));
    EXPECT_TRUE(contains(apachectl, "ENVVARS='/tmp/mod_wsgi-localhost:8000:1000/envvars'\n"));
    EXPECT_TRUE(contains(apachectl, "        exec \"$HTTPD\" -d"));
    std::ofstream(dir_ / "it's.env") << "";
    options_.envvars_script = "it's.env";
    options_.passenv_variables = {"DATABASE_URL"};
    options_.process_name = "site (httpd)";
    Plan plan = resolve(options_, facts_);
    apachectl = render_apachectl(plan);
    EXPECT_TRUE(contains(apachectl, "ENVVARS='" + dir_.string() + "/it'\\''s.env'"));
    EXPECT_TRUE(contains(apachectl, "exec -a 'site (httpd)' \"$HTTPD\" -d"));
    std::string conf = render_httpd_conf(plan);
    EXPECT_TRUE(contains(conf, "PassEnv DATABASE_URL\n"));
    EXPECT_TRUE(contains(conf, "LoadModule env_module"));
    options_.passenv_variables = {"A B"};
    EXPECT_THROW(resolve(options_, facts_), UsageError);
}

TEST_F(ExpressTest, ReloadMonitorIsLoadedIntoTheApplicationGroup) {
    options_.reload_on_changes = true;
    Plan plan = resolve(options_, facts_);
    EXPECT_TRUE(contains(render_httpd_conf(plan),
                         "WSGIImportScript \"" + plan.reload_monitor +
                             "\" process-group=localhost:8000 application-group=%{GLOBAL}\n"));
    EXPECT_TRUE(contains(reload_monitor_source(), "os.kill(os.getpid(), signal.SIGINT)"));
}

}  // namespace
}  // namespace express
