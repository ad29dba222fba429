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
