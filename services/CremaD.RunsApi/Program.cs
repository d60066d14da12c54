var builder = WebApplication.CreateBuilder(args);
builder.AddCremaDRunsApi();
var app = builder.Build();
app.MapCremaDRunsApi();
app.Run();
