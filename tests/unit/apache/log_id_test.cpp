// The module's generate_log_id hook (apache/log_id.hpp) against the layout of httpd's own log
// id, in this process and in a forked child.

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <apr_base64.h>
#include <apr_general.h>
#include <apr_time.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "apache/log_id.hpp"

namespace wsgi::apache {
namespace {

// The 64-bit value an id encodes: base64 of 8 bytes in memory order, the '=' left off.
std::uint64_t decode(const char* id) {
    std::string padded = std::string(id) + "=";
    char bytes[16] = {};
    EXPECT_EQ(apr_base64_decode_len(padded.c_str()) >= 8, true);
    EXPECT_EQ(apr_base64_decode(bytes, padded.c_str()), 8);
    std::uint64_t value = 0;
    std::memcpy(&value, bytes, sizeof(value));
    return value;
}

// What the id hides under the time: the process id from bit 40 (its bits 24 and up from bit
// 56), the thread from bit 32 (httpd's server/log.c).
std::uint64_t process_and_thread(pid_t pid, const void* thread) {
    const auto p = static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid));
    return (p << 40) ^ ((p >> 24) << 56) ^
           (static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(thread)) << 32);
}

class LogIdTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        apr_initialize();
        forget_process_id_on_fork();
    }
    void SetUp() override {
        ASSERT_EQ(apr_pool_create(&pool_, nullptr), APR_SUCCESS);
        connection_.pool = pool_;
        connection_.current_thread = reinterpret_cast<apr_thread_t*>(std::uintptr_t{0x7f3a5c1d2e40});
        request_.pool = pool_;
        request_.connection = &connection_;
        request_.request_time = apr_time_t{1'764'979'200'123'456};
    }
    void TearDown() override { apr_pool_destroy(pool_); }

    apr_pool_t* pool_ = nullptr;
    conn_rec connection_{};
    request_rec request_{};
};

TEST_F(LogIdTest, IsTheRequestTimeUnderTheProcessAndThread) {
    const char* id = nullptr;
    ASSERT_EQ(generate_log_id(&connection_, &request_, &id), OK);
    ASSERT_NE(id, nullptr);
    EXPECT_EQ(std::strlen(id), 11u);
    EXPECT_EQ(decode(id) ^ process_and_thread(getpid(), connection_.current_thread),
              static_cast<std::uint64_t>(request_.request_time));
}

TEST_F(LogIdTest, WithoutARequestIsTheTimeNow) {
    const apr_time_t before = apr_time_now();
    const char* id = nullptr;
    ASSERT_EQ(generate_log_id(&connection_, nullptr, &id), OK);
    const apr_time_t after = apr_time_now();
    const auto time = static_cast<apr_time_t>(
        decode(id) ^ process_and_thread(getpid(), connection_.current_thread));
    EXPECT_GE(time, before);
    EXPECT_LE(time, after);
}

TEST_F(LogIdTest, AForkedChildUsesItsOwnProcessId) {
    const char* id = nullptr;
    ASSERT_EQ(generate_log_id(&connection_, &request_, &id), OK);  // the parent's is known
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const char* child_id = nullptr;
        generate_log_id(&connection_, &request_, &child_id);
        const bool right =
            (decode(child_id) ^ process_and_thread(getpid(), connection_.current_thread)) ==
            static_cast<std::uint64_t>(request_.request_time);
        _exit(right ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's id carries its parent's process id";
}

}  // namespace
}  // namespace wsgi::apache
