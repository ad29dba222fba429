// Virtual hosts: the refusal of unknown host names, the named site, redirects, proxying and
// TLS.

#include "express/virtual_hosts.hpp"

#include <strings.h>

#include "express/conf_text.hpp"

namespace express {
namespace {

// With --server-name, name-based virtual hosts as mod_wsgi-express makes them: the first one
// of a port answers requests naming any other host and refuses them (403), except, with
// --allow-localhost, from clients on this machine. The refusal is a RewriteRule rather than a
// Require so that it never replaces the Require lines of --auth-user-script.
std::string catch_all_host(const Plan& plan, int port, const std::string& inside) {
    std::string out = "<VirtualHost *:" + std::to_string(port) + ">\n";
    out += "    # Requests for host names other than --server-name and --server-alias.\n";
    out += "    ServerName _default_\n    RewriteEngine On\n";
    if (plan.options.allow_localhost) {
        out += "    # --allow-localhost: clients on this machine may use any name.\n";
        out += "    RewriteCond expr \"! (-R '127.0.0.0/8' || -R '::1')\"\n";
    }
    out += "    RewriteRule \"^\" \"-\" [F]\n";
    return out + inside + "</VirtualHost>\n";
}

std::string named_host(const Plan& plan, int port, const std::string& inside) {
    const ServerOptions& o = plan.options;
    std::string out = "<VirtualHost *:" + std::to_string(port) + ">\n";
    out += "    ServerName " + o.server_name + "\n";
    if (!o.server_aliases.empty()) {
        out += "    ServerAlias " + join(o.server_aliases) + "\n";
    }
    out += "    # The server's rewrite rules apply here (RewriteOptions InheritDown above).\n";
    out += "    RewriteEngine On\n";
    return out + inside + "</VirtualHost>\n";
}

// mod_wsgi-express: a --server-name starting with "www." also answers for the parent domain,
// with a permanent redirect to the same path under the www. name.
std::string parent_domain_host(const Plan& plan, int port, bool https, const std::string& inside) {
    const ServerOptions& o = plan.options;
    std::string target_port = https || plan.https_only ? std::to_string(*o.https_port)
                                                       : std::to_string(o.port);
    bool secure = https || plan.https_only;
    bool default_port = target_port == (secure ? "443" : "80");
    std::string target = std::string(secure ? "https://" : "http://") + o.server_name +
                         (default_port ? "" : ":" + target_port) + "/";
    std::string out = "<VirtualHost *:" + std::to_string(port) + ">\n";
    out += "    # The parent domain of a www. --server-name redirects to it.\n";
    out += "    ServerName " + parent_domain(plan) + "\n";
    out += "    Redirect permanent \"/\" " + quote(target) + "\n";
    return out + inside + "</VirtualHost>\n";
}

std::string proxy_virtual_hosts(const Plan& plan) {
    const ServerOptions& o = plan.options;
    std::string out;
    for (const auto& [host, url] : o.proxy_virtual_hosts) {
        out += "<VirtualHost *:" + std::to_string(o.port) + ">\n";
        out += "    # --proxy-virtual-host: requests for " + host + " go to " + url + ".\n";
        out += "    ServerName " + host + "\n";
        out += "    ProxyPass \"/\" " + quote(url) + "\n";
        out += "    ProxyPassReverse \"/\" " + quote(url) + "\n";
        out += "    RequestHeader set X-Forwarded-Port \"" + std::to_string(o.port) + "\"\n";
        out += "</VirtualHost>\n";
    }
    return out;
}

}  // namespace

std::string parent_domain(const Plan& plan) {
    const std::string& name = plan.options.server_name;
    if (name.size() > 4 && strncasecmp(name.c_str(), "www.", 4) == 0) {
        return name.substr(4);
    }
    return "";
}

std::string host_names_section(const Plan& plan) {
    const ServerOptions& o = plan.options;
    if (o.server_name.empty() && o.proxy_virtual_hosts.empty()) {
        return "";
    }
    std::string out = "# ---- Host names --------------------------------------------------------\n";
    if (o.server_name.empty()) {
        // The first virtual host of a port takes the requests no other one names: this one
        // is the server as configured above.
        out += "<VirtualHost *:" + std::to_string(o.port) + ">\n";
        out += "    # Requests for any host name not below.\n";
        out += "    ServerName " + plan.server_name + "\n    RewriteEngine On\n";
        out += "</VirtualHost>\n";
    } else {
        out += catch_all_host(plan, o.port, "") + named_host(plan, o.port, "");
        if (!parent_domain(plan).empty()) {
            out += parent_domain_host(plan, o.port, false, "");
        }
    }
    return out + proxy_virtual_hosts(plan) + "\n";
}

std::string https_section(const Plan& plan) {
    const ServerOptions& o = plan.options;
    if (!o.https_port) {
        return "";
    }
    std::string ssl = "    SSLEngine On\n";
    ssl += "    SSLCertificateFile " + quote(plan.ssl_certificate_file) + "\n";
    ssl += "    SSLCertificateKeyFile " + quote(plan.ssl_certificate_key_file) + "\n";
    if (!plan.ssl_certificate_chain_file.empty()) {
        ssl += "    SSLCertificateChainFile " + quote(plan.ssl_certificate_chain_file) + "\n";
    }
    if (!plan.ssl_ca_certificate_file.empty()) {
        ssl += "    # --ssl-ca-certificate-file: clients present a certificate these CAs signed";
        ssl += o.ssl_verify_client_urls.empty() ? ".\n" : ",\n    # under --ssl-verify-client.\n";
        ssl += "    SSLCACertificateFile " + quote(plan.ssl_ca_certificate_file) + "\n";
        ssl += std::string("    SSLVerifyClient ") +
               (o.ssl_verify_client_urls.empty() ? "require" : "none") + "\n";
        ssl += "    SSLVerifyDepth 1\n";
        for (const std::string& url : o.ssl_verify_client_urls) {
            ssl += "    <Location " + quote(url) + ">\n        SSLVerifyClient require\n"
                   "    </Location>\n";
        }
    }
    if (o.ssl_environment) {
        ssl += "    # --ssl-environment: SSL_* variables in the environ.\n";
        ssl += "    SSLOptions +StdEnvVars\n";
    }
    std::string site = ssl;
    if (!plan.hsts_policy.empty()) {
        site += "    # --hsts-policy: browsers keep to HTTPS.\n";
        site += "    Header always set Strict-Transport-Security " +
                quote_escaped(plan.hsts_policy) + "\n";
    }
    std::string out = "# ---- HTTPS -------------------------------------------------------------\n";
    out += "Listen " + listen_address(o.host, *o.https_port) + " https\n";
    out += "SSLSessionCache " + quote("shmcb:" + plan.server_root + "/ssl_scache(512000)") + "\n";
    out += "# The same server (and application) as above, over TLS.\n";
    if (!o.server_name.empty()) {
        out += catch_all_host(plan, *o.https_port, ssl) + named_host(plan, *o.https_port, site);
        if (!parent_domain(plan).empty()) {
            out += parent_domain_host(plan, *o.https_port, true, ssl);
        }
        return out + "\n";
    }
    out += "<VirtualHost *:" + std::to_string(*o.https_port) + ">\n";
    out += "    ServerName " + plan.server_name + "\n";
    out += "    # The server's rewrite rules apply here (RewriteOptions InheritDown above).\n";
    out += "    RewriteEngine On\n";
    return out + site + "</VirtualHost>\n\n";
}

}  // namespace express
