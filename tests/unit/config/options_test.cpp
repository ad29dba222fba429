#include "config/options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace wsgi::config {
namespace {

EnvLookup lookup_from(std::map<std::string, std::string> values) {
    return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
        auto it = values.find(std::string(name));
        if (it == values.end()) {
            return std::nullopt;
        }
        return it->second;
    };
}

TEST(OnOff, CaseInsensitive) {
    EXPECT_EQ(parse_on_off("On"), true);
    EXPECT_EQ(parse_on_off("off"), false);
    EXPECT_EQ(parse_on_off("OFF"), false);
    EXPECT_EQ(parse_on_off("maybe"), std::nullopt);
    EXPECT_EQ(parse_on_off("1"), std::nullopt);
    EXPECT_EQ(parse_on_off(""), std::nullopt);
}

TEST(MapHeadToGet, ThreeValues) {
    EXPECT_EQ(parse_map_head_to_get("auto"), MapHeadToGet::kAuto);
    EXPECT_EQ(parse_map_head_to_get("On"), MapHeadToGet::kOn);
    EXPECT_EQ(parse_map_head_to_get("Off"), MapHeadToGet::kOff);
    EXPECT_EQ(parse_map_head_to_get("Sometimes"), std::nullopt);
}

TEST(ScriptAliasOptions, ParsesKnownOptions) {
    ScriptAliasOptions options;
    EXPECT_EQ(parse_script_alias_option("process-group=site", options), std::nullopt);
    EXPECT_EQ(parse_script_alias_option("application-group=%{GLOBAL}", options), std::nullopt);
    EXPECT_EQ(parse_script_alias_option("callable-object=app", options), std::nullopt);
    EXPECT_EQ(parse_script_alias_option("pass-authorization=On", options), std::nullopt);
    EXPECT_EQ(options.process_group, "site");
    EXPECT_EQ(options.application_group, "%{GLOBAL}");
    EXPECT_EQ(options.callable_object, "app");
    EXPECT_EQ(options.pass_authorization, true);
}

TEST(ScriptAliasOptions, RejectsBadOptions) {
    ScriptAliasOptions options;
    auto unknown = parse_script_alias_option("bogus-option=1", options);
    ASSERT_TRUE(unknown.has_value());
    EXPECT_NE(unknown->find("bogus-option"), std::string::npos);
    EXPECT_TRUE(parse_script_alias_option("process-group", options).has_value());
    EXPECT_TRUE(parse_script_alias_option("process-group=", options).has_value());
    EXPECT_TRUE(parse_script_alias_option("pass-authorization=yes", options).has_value());
}

TEST(ApplicationGroup, Expansions) {
    RequestIdentity identity{"example.com", 80, "/app"};
    auto lookup = lookup_from({{"GROUP", "from-env"}});
    EXPECT_EQ(expand_application_group(std::nullopt, identity, lookup), "example.com|/app");
    EXPECT_EQ(expand_application_group("%{RESOURCE}", identity, lookup), "example.com|/app");
    EXPECT_EQ(expand_application_group("%{GLOBAL}", identity, lookup), "");
    EXPECT_EQ(expand_application_group("%{SERVER}", identity, lookup), "example.com");
    EXPECT_EQ(expand_application_group("%{ENV:GROUP}", identity, lookup), "from-env");
    EXPECT_EQ(expand_application_group("%{ENV:MISSING}", identity, lookup), "%{ENV:MISSING}");
    EXPECT_EQ(expand_application_group("literal", identity, lookup), "literal");
}

TEST(ApplicationGroup, ResourceLowerCasesTheScriptNameWhenCaseInsensitive) {
    // mod_wsgi 6: only with WSGICaseSensitivity Off (4.9.4 lower-cases always).
    auto lookup = lookup_from({});
    EXPECT_EQ(expand_application_group(std::nullopt, {"Example.com", 80, "/MyApp/Sub"}, lookup),
              "Example.com|/MyApp/Sub");
    EXPECT_EQ(expand_application_group(std::nullopt,
                                       {"Example.com", 80, "/MyApp/Sub", "", false}, lookup),
              "Example.com|/myapp/sub");
    EXPECT_EQ(expand_application_group("%{SERVER}", {"Example.com", 80, "/MyApp", "", false},
                                       lookup),
              "Example.com");
}

TEST(ApplicationGroup, PortShownUnlessDefault) {
    auto lookup = lookup_from({});
    EXPECT_EQ(expand_application_group("%{SERVER}", {"h", 8080, "/x"}, lookup), "h:8080");
    EXPECT_EQ(expand_application_group("%{SERVER}", {"h", 443, "/x"}, lookup), "h");
    EXPECT_EQ(expand_application_group(std::nullopt, {"h", 8080, ""}, lookup), "h:8080|");
}

TEST(ApplicationGroup, HostIsTheRequestedName) {
    auto lookup = lookup_from({});
    EXPECT_EQ(expand_application_group("%{HOST}", {"h", 80, "/x", "www.example.com"}, lookup),
              "www.example.com");
    EXPECT_EQ(expand_application_group("%{HOST}", {"h", 8080, "/x", "other.test"}, lookup),
              "other.test:8080");
    EXPECT_EQ(expand_application_group("%{HOST}", {"h", 80, "/x"}, lookup), "h");  // no Host
}

TEST(ProcessGroup, DefaultIsEmbedded) {
    RequestIdentity identity{"h", 80, "/x"};
    auto lookup = lookup_from({{"PG", "daemon"}});
    EXPECT_EQ(expand_process_group(std::nullopt, identity, lookup), "");
    EXPECT_EQ(expand_process_group("%{GLOBAL}", identity, lookup), "");
    EXPECT_EQ(expand_process_group("%{ENV:PG}", identity, lookup), "daemon");
    EXPECT_EQ(expand_process_group("site", identity, lookup), "site");
}

TEST(CallableObject, DefaultAndEnv) {
    auto lookup = lookup_from({{"CALLABLE", "app2"}});
    EXPECT_EQ(expand_callable_object(std::nullopt, lookup), "application");
    EXPECT_EQ(expand_callable_object("handler", lookup), "handler");
    EXPECT_EQ(expand_callable_object("%{ENV:CALLABLE}", lookup), "app2");
    EXPECT_EQ(expand_callable_object("%{ENV:NOPE}", lookup), "application");
}

// A scratch directory, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "wsgi-home-XXXXXX");
        path_ = mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    void write(const std::string& relative, const std::string& text) const {
        std::filesystem::path file = path_ / relative;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << text;
    }

private:
    std::filesystem::path path_;
};

TEST(PyvenvVersion, ReadsVersionKeys) {
    EXPECT_EQ(pyvenv_version("home = /usr/bin\ninclude-system-site-packages = true\n"
                             "version = 3.11.2\n"),
              "3.11.2");
    EXPECT_EQ(pyvenv_version("home=/usr/bin\r\nversion_info=3.9.7.final.0\r\n"), "3.9.7.final.0");
    EXPECT_EQ(pyvenv_version("version = 3.11.4\nversion_info = 3.11.4.final.0\n"), "3.11.4");
    EXPECT_EQ(pyvenv_version("home = /usr/bin\n"), std::nullopt);
    EXPECT_EQ(pyvenv_version(""), std::nullopt);
}

TEST(PythonHome, VirtualEnvironment) {
    TempDir dir;
    dir.write("pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n");
    PythonHome home;
    EXPECT_EQ(check_python_home(dir.str() + "/", "3.11", home), std::nullopt);
    EXPECT_EQ(home.path, dir.str());
    EXPECT_TRUE(home.virtual_environment);
}

TEST(PythonHome, VirtualEnvironmentOfAnotherVersion) {
    TempDir dir;
    dir.write("pyvenv.cfg", "home = /usr/bin\nversion = 3.9.2\n");
    PythonHome home;
    auto error = check_python_home(dir.str(), "3.11", home);
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find(dir.str()), std::string::npos) << *error;
    EXPECT_NE(error->find("3.9.2"), std::string::npos) << *error;
    // "3.1" must not pass for "3.11", nor "3.110".
    dir.write("pyvenv.cfg", "version = 3.1.4\n");
    EXPECT_TRUE(check_python_home(dir.str(), "3.11", home).has_value());
    dir.write("pyvenv.cfg", "version = 3.110.0\n");
    EXPECT_TRUE(check_python_home(dir.str(), "3.11", home).has_value());
    dir.write("pyvenv.cfg", "version_info = 3.11.0.final.0\n");
    EXPECT_EQ(check_python_home(dir.str(), "3.11", home), std::nullopt);
}

TEST(PythonHome, VirtualEnvironmentWithoutVersion) {
    TempDir dir;
    dir.write("pyvenv.cfg", "home = /usr/bin\n");
    PythonHome home;
    EXPECT_TRUE(check_python_home(dir.str(), "3.11", home).has_value());
    dir.write("lib/python3.11/site-packages/x.py", "");
    EXPECT_EQ(check_python_home(dir.str(), "3.11", home), std::nullopt);
    EXPECT_TRUE(home.virtual_environment);
}

TEST(PythonHome, Prefix) {
    TempDir dir;
    PythonHome home;
    auto error = check_python_home(dir.str(), "3.11", home);
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find(dir.str()), std::string::npos) << *error;
    EXPECT_NE(error->find("os.py"), std::string::npos) << *error;
    dir.write("lib/python3.11/os.py", "");
    EXPECT_EQ(check_python_home(dir.str(), "3.11", home), std::nullopt);
    EXPECT_FALSE(home.virtual_environment);
    EXPECT_EQ(home.path, dir.str());
    // PYTHONHOME's prefix:exec_prefix form.
    EXPECT_EQ(check_python_home(dir.str() + ":" + dir.str(), "3.11", home), std::nullopt);
    EXPECT_EQ(home.path, dir.str() + ":" + dir.str());
    EXPECT_TRUE(check_python_home(dir.str() + ":/no/such/dir", "3.11", home).has_value());
}

TEST(PythonHome, MissingOrRelative) {
    PythonHome home;
    auto missing = check_python_home("/no/such/python/home", "3.11", home);
    ASSERT_TRUE(missing.has_value());
    EXPECT_NE(missing->find("/no/such/python/home"), std::string::npos) << *missing;
    EXPECT_TRUE(check_python_home("venv", "3.11", home).has_value());
    EXPECT_TRUE(check_python_home("", "3.11", home).has_value());
}

TEST(OptimizeLevel, ZeroToTwo) {
    EXPECT_EQ(parse_optimize_level("0"), 0);
    EXPECT_EQ(parse_optimize_level("1"), 1);
    EXPECT_EQ(parse_optimize_level("2"), 2);
    EXPECT_EQ(parse_optimize_level("3"), std::nullopt);
    EXPECT_EQ(parse_optimize_level("-1"), std::nullopt);
    EXPECT_EQ(parse_optimize_level("01"), std::nullopt);
    EXPECT_EQ(parse_optimize_level(""), std::nullopt);
}

TEST(HashSeed, RandomOrUnsigned32) {
    auto random = parse_hash_seed("Random");
    ASSERT_TRUE(random.has_value());
    EXPECT_TRUE(random->random);
    auto zero = parse_hash_seed("0");
    ASSERT_TRUE(zero.has_value());
    EXPECT_FALSE(zero->random);
    EXPECT_EQ(zero->seed, 0u);
    auto top = parse_hash_seed("4294967295");
    ASSERT_TRUE(top.has_value());
    EXPECT_EQ(top->seed, 4294967295u);
    EXPECT_EQ(parse_hash_seed("4294967296"), std::nullopt);
    EXPECT_EQ(parse_hash_seed("-1"), std::nullopt);
    EXPECT_EQ(parse_hash_seed("+1"), std::nullopt);
    EXPECT_EQ(parse_hash_seed("12x"), std::nullopt);
    EXPECT_EQ(parse_hash_seed(""), std::nullopt);
}

TEST(WarningOption, PythonDashWSyntax) {
    EXPECT_EQ(check_warning_option("error"), std::nullopt);
    EXPECT_EQ(check_warning_option("error::DeprecationWarning"), std::nullopt);
    EXPECT_EQ(check_warning_option("ignore::DeprecationWarning:somepackage.legacy"),
              std::nullopt);
    EXPECT_EQ(check_warning_option("d"), std::nullopt);  // a prefix of "default"
    EXPECT_EQ(check_warning_option("all"), std::nullopt);
    EXPECT_EQ(check_warning_option(":msg"), std::nullopt);
    EXPECT_EQ(check_warning_option("once:m:UserWarning:mod:12"), std::nullopt);
    EXPECT_TRUE(check_warning_option("explode").has_value());
    EXPECT_TRUE(check_warning_option("error:a:b:c:d:e").has_value());
    EXPECT_TRUE(check_warning_option("error:a:b:c:x1").has_value());
}

}  // namespace
}  // namespace wsgi::config
