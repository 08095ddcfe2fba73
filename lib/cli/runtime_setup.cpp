// Runtime construction; see runtime_setup.hpp.
#include "cli/runtime_setup.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"
#include "manifest/manifest.hpp"
#include "runtime/program.hpp"
#include "runtime/program_runner.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace hearth::cli {

nlohmann::json local_invoker() {
  std::string user;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr)
    user = pw->pw_name;
  if (user.empty())
    if (const char* env = std::getenv("USER")) user = env;
  if (user.empty()) user = "uid" + std::to_string(::getuid());
  return {{"id", "local:" + user}, {"kind", "local"}, {"label", user}};
}

runtime::RuntimeContext runtime_context(const config::Project& project) {
  runtime::RuntimeContext context{.project_root = project.root,
                                  .default_model = project.model,
                                  .env = providers::process_env(),
                                  .secret_env = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                                 "OPENROUTER_API_KEY", "AI_GATEWAY_API_KEY"}};
  for (const auto& [id, p] : project.providers) {
    context.providers[id] = {.id = id, .api = p.api, .base_url = p.base_url,
                             .api_key_env = p.api_key_env, .headers = p.headers};
    if (!p.api_key_env.empty()) context.secret_env.push_back(p.api_key_env);
  }
  return context;
}

std::vector<std::string> runtime_args(const config::Project& project,
                                      const config::ProjectFlags& flags) {
  std::vector<std::string> args{"--root", project.root.string()};
  if (project.config_file) args.insert(args.end(), {"--config", project.config_file->string()});
  for (const auto& file : project.env_files)
    if (!flags.env.empty()) args.insert(args.end(), {"--env", file.string()});
  return args;
}

RuntimeHost::RuntimeHost(const config::Project& project) {
  const auto artifacts = manifest::artifacts_for(project.root);
  const auto compiled = manifest::load(artifacts.compiled_manifest);
  if (compiled.value("status", "") != "ready")
    throw errors::build_failed(
        compiled.value("diagnosticsSummary", nlohmann::json::object()).value("errors", 0),
        compiled.value("diagnosticsSummary", nlohmann::json::object()).value("warnings", 0),
        fs::display_path(artifacts.diagnostics, project.root));
  auto program = runtime::load_program(compiled, project.root);
  m_store = store::open_store(project.store.kind == config::StoreConfig::Kind::memory
                                  ? std::string("memory:")
                                  : "sqlite:" + project.store.path.string(),
                              project.root);
  m_store->recover_abandoned_runs();
  m_runtime = std::make_unique<runtime::Runtime>(std::move(program), runtime_context(project),
                                                 *m_store);
  runtime::install_program_runner(*m_runtime);
}

} // namespace hearth::cli
