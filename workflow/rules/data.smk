# Raw data -> verified files -> typed parquet -> cleaned parts with family labels -> EDA.


rule download:
    output:
        "results/raw/{file}",
    log:
        "results/logs/download/{file}.log",
    benchmark:
        "results/benchmarks/download/{file}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        mirror=config["data"]["mirror"],
        # Not an output: parallel download jobs share it (download.pin serializes their updates).
        lock=config["data"]["lock"],
        retries=config["data"]["download"]["retries"],
        timeout=config["data"]["download"]["timeout_s"],
    script:
        "../scripts/download.py"


rule parse:
    input:
        unpack(parse_inputs),
    output:
        "results/parsed/{dataset}/{part}.parquet",
    log:
        "results/logs/parse/{dataset}/{part}.log",
    benchmark:
        "results/benchmarks/parse/{dataset}/{part}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/parse.py"


rule clean:
    input:
        "results/parsed/{dataset}/{part}.parquet",
    output:
        data="results/clean/{dataset}/{part}.parquet",
        report="results/clean/{dataset}/{part}.cleaning.json",
    log:
        "results/logs/clean/{dataset}/{part}.log",
    benchmark:
        "results/benchmarks/clean/{dataset}/{part}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        preprocessing=config["preprocessing"],
    script:
        "../scripts/clean.py"


rule cleaning_report:
    input:
        cleaning_part_reports,
    output:
        "results/reports/cleaning/{dataset}.json",
    log:
        "results/logs/cleaning_report/{dataset}.log",
    benchmark:
        "results/benchmarks/cleaning_report/{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/cleaning_report.py"


# Tables for every dataset; a checkpoint because Figures 3-5 (rule eda_figures) are drawn only where
# the cleaned data has DoS records (the family map alone cannot tell: iot-23 maps DDoS, its captures have none).
checkpoint eda:
    input:
        clean_parts,
    output:
        class_csv="results/eda/{dataset}/class_distribution.csv",
        class_md="results/eda/{dataset}/class_distribution.md",
        family_csv="results/eda/{dataset}/family_distribution.csv",
        family_md="results/eda/{dataset}/family_distribution.md",
    log:
        "results/logs/eda/{dataset}.log",
    benchmark:
        "results/benchmarks/eda/{dataset}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dos_families=config["eda"]["dos_families"],
    script:
        "../scripts/eda.py"


rule eda_figures:
    input:
        clean_parts,
    output:
        fig3_png=report(
            "results/eda/{dataset}/fig3_dos_attack_types.png",
            caption="../report/fig3_dos_attack_types.rst",
            category="Exploratory analysis",
            subcategory="{dataset}",
        ),
        fig3_svg="results/eda/{dataset}/fig3_dos_attack_types.svg",
        fig4_png=report(
            "results/eda/{dataset}/fig4_normal_vs_dos.png",
            caption="../report/fig4_normal_vs_dos.rst",
            category="Exploratory analysis",
            subcategory="{dataset}",
        ),
        fig4_svg="results/eda/{dataset}/fig4_normal_vs_dos.svg",
        fig5_png=report(
            "results/eda/{dataset}/fig5_dos_vs_all.png",
            caption="../report/fig5_dos_vs_all.rst",
            category="Exploratory analysis",
            subcategory="{dataset}",
        ),
        fig5_svg="results/eda/{dataset}/fig5_dos_vs_all.svg",
    log:
        "results/logs/eda_figures/{dataset}.log",
    benchmark:
        "results/benchmarks/eda_figures/{dataset}.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dos_families=config["eda"]["dos_families"],
    script:
        "../scripts/eda_figures.py"
