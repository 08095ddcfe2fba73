// The dev pid file: claim, refuse a live owner, replace a stale one, clean up.
#include "core/error.hpp"
#include "core/process.hpp"
#include "support/temp_project.hpp"
#include "watch/pid_file.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <unistd.h>

using namespace hearth::watch;

TEST_SUITE("watch") {
  TEST_CASE("the pid file records our pid and is removed with its owner") {
    TempProject project;
    const auto path = project.root() / ".hearth" / "dev-process.pid";
    {
      PidFile file(path, ::getpid());
      CHECK(read_pid(path) == ::getpid());
    }
    CHECK_FALSE(std::filesystem::exists(path));
  }

  TEST_CASE("a second claim while the owner lives names it and how to stop it") {
    TempProject project;
    const auto path = project.root() / ".hearth" / "dev-process.pid";
    hearth::process::Process other({.argv = {"sleep", "30"}});
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << other.pid() << '\n';
    try {
      PidFile file(path, ::getpid());
      FAIL("claimed a pid file owned by a live process");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "dev_already_running");
      CHECK(std::string(e.what()).find(std::to_string(other.pid())) != std::string::npos);
      CHECK(e.info().details.find("kill " + std::to_string(other.pid())) != std::string::npos);
    }
    CHECK(read_pid(path) == other.pid()); // left alone
  }

  TEST_CASE("a stale pid file (dead process) or garbage is replaced") {
    TempProject project;
    const auto path = project.root() / ".hearth" / "dev-process.pid";
    pid_t dead = 0;
    {
      hearth::process::Process gone({.argv = {"true"}});
      gone.wait();
      dead = gone.pid();
    }
    REQUIRE_FALSE(process_alive(dead));
    SUBCASE("dead process") {
      std::filesystem::create_directories(path.parent_path());
      std::ofstream(path) << dead << '\n';
    }
    SUBCASE("garbage") {
      std::filesystem::create_directories(path.parent_path());
      std::ofstream(path) << "not a pid";
    }
    PidFile file(path, ::getpid());
    CHECK(read_pid(path) == ::getpid());
  }
}
