import { Argument, Command } from "commander";
import { ExitCode } from "../../errors.js";
import { toolVersion } from "../../version.js";
import { bashScript } from "../completion/bashScript.js";
import { completionTree } from "../completion/commandTree.js";
import { zshScript } from "../completion/zshScript.js";
import { withExitStatuses } from "../exitHelp.js";
import { withExamples } from "../helpFooter.js";

const SCRIPTS = { bash: bashScript, zsh: zshScript } as const;

export function completionCommand(): Command {
  const cmd = new Command("completion")
    .summary("print a shell completion script (bash or zsh)")
    .description(
      "Print a completion script for bash or zsh on stdout, made from this program's own subcommands and " +
        "options (so it is as current as the tool). Needs no Redis.",
    )
    .addArgument(new Argument("<shell>", "bash or zsh").choices(Object.keys(SCRIPTS)));
  withExitStatuses(cmd, [ExitCode.Ok], { [ExitCode.Ok]: "the script was printed" });
  withExamples(cmd, [
    "jobs-migrate completion bash > /etc/bash_completion.d/jobs-migrate",
    'jobs-migrate completion zsh > "${fpath[1]}/_jobs-migrate"     # then start a new shell',
  ]);
  cmd.action((shell: keyof typeof SCRIPTS) => {
    // The program is the parent: the script lists what it has now, never a stale copy.
    const program = cmd.parent ?? cmd;
    process.stdout.write(SCRIPTS[shell](completionTree(program), toolVersion()));
  });
  return cmd;
}
